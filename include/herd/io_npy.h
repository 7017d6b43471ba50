/* herd io: npy (to be filled in by its issue). */
#ifndef HERD_IO_NPY_H
#define HERD_IO_NPY_H

#include "herd/base.h"
#include "herd/formats.h"

#endif
