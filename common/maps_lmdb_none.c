/* SPDX-License-Identifier: MIT */
/*
 * maps_lmdb_none.c - stands in for maps_lmdb.c when built without LMDB
 *
 * maps.c still knows the "lmdb:" type so the error names the cause.
 */
#include "maps_driver.h"

const struct maps_driver maps_lmdb_driver = {
	".lmdb", false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL
};
