#!/bin/sh
# Issue #20 item 5: no reader blocks on a FIFO. Every way a file gets in - the model, files in a
# model directory, quantize's input, policy and tokenizer, mx cast, tokenize's four files,
# perplexity's text, chat's tokenizer - is given a FIFO nobody writes to; each must end within
# the timeout with one line naming what the file is.
. "$(dirname "$0")/common.shlib"

F="$T/fifo"; mkfifo "$F"
tok=tokenizer/tiny/tokenizer.json
# model directories where one file is a FIFO
mkdir "$T/cfg" "$T/st" "$T/tokdir"
mkfifo "$T/cfg/config.json"; ln -s "$PWD/$TINY/model.safetensors" "$T/cfg/"
cp "$TINY/config.json" "$T/st/"; mkfifo "$T/st/model.safetensors"
cp "$TINY/config.json" "$T/tokdir/"; ln -s "$PWD/$TINY/model.safetensors" "$T/tokdir/"
mkfifo "$T/tokdir/tokenizer.json"

fifo() { # DESC WORD CMD...
  desc=$1; word=$2; shift 2
  timeout 20 "$@" >/dev/null 2>"$T/err" </dev/null
  one_error "$desc" $? "$T/err" "$word"
}
fifo "run -m FIFO" FIFO "$HERD" run -m "$F" --ids 1 -n 1
fifo "logits -m FIFO" FIFO "$HERD" logits -m "$F" --ids 1 -o "$T/o.npy"
fifo "config.json a FIFO" FIFO "$HERD" logits -m "$T/cfg" --ids 1 -o "$T/o.npy"
fifo "model.safetensors a FIFO" FIFO "$HERD" logits -m "$T/st" --ids 1 -o "$T/o.npy"
fifo "quantize FIFO" FIFO "$HERD" quantize "$F" "$T/q.gguf" --type f32
fifo "quantize config.json a FIFO" FIFO "$HERD" quantize "$T/cfg" "$T/q.gguf" --type f32
fifo "quantize --policy FIFO" FIFO "$HERD" quantize "$TINY" "$T/q.gguf" --type f32 --policy "$F"
fifo "quantize --tokenizer FIFO" FIFO "$HERD" quantize "$TINY" "$T/q.gguf" --type f32 --tokenizer "$F"
fifo "mx cast FIFO" FIFO "$HERD" mx cast --format mxfp4_e2m1 "$F" "$T/o.npy"
fifo "tokenize --vocab FIFO" FIFO "$HERD" tokenize --vocab "$F" -p hi
fifo "tokenize --per-line FIFO" FIFO "$HERD" tokenize --vocab "$tok" --per-line "$F"
fifo "tokenize --specials FIFO" FIFO "$HERD" tokenize --vocab tokenizer/o200k_base.subset.tiktoken --specials "$F" -p hi
fifo "tokenize --pattern FIFO" FIFO "$HERD" tokenize --vocab tokenizer/o200k_base.subset.tiktoken --pattern "$F" -p hi
fifo "tokenize -m DIR with a FIFO tokenizer.json" FIFO "$HERD" tokenize -m "$T/tokdir" -p hi
fifo "perplexity -f FIFO" FIFO "$HERD" perplexity -m "$TINY" --tokenizer "$tok" -f "$F"
fifo "run -f FIFO (the prompt)" FIFO "$HERD" run -m "$TINY" --tokenizer "$tok" -f "$F" -n 1
fifo "chat --tokenizer FIFO" FIFO "$HERD" chat -m "$TINY" --tokenizer "$F"
fifo "chat -m DIR with a FIFO tokenizer.json" FIFO "$HERD" chat -m "$T/tokdir"
finish
