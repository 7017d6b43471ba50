/* herd io: json (to be filled in by its issue). */
#ifndef HERD_IO_JSON_H
#define HERD_IO_JSON_H

#include "herd/base.h"
#include "herd/formats.h"

#endif
