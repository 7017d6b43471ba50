/* herd io layer: file formats, no model knowledge. One header per format, gathered here. */
#ifndef HERD_IO_H
#define HERD_IO_H

#include "herd/io_npy.h"
#include "herd/io_safetensors.h"
#include "herd/io_gguf.h"
#include "herd/io_json.h"

#endif
