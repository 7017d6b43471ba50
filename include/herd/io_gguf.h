/* herd io: gguf (to be filled in by its issue). */
#ifndef HERD_IO_GGUF_H
#define HERD_IO_GGUF_H

#include "herd/base.h"
#include "herd/formats.h"

#endif
