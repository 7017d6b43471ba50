/* herd io: safetensors (to be filled in by its issue). */
#ifndef HERD_IO_SAFETENSORS_H
#define HERD_IO_SAFETENSORS_H

#include "herd/base.h"
#include "herd/formats.h"

#endif
