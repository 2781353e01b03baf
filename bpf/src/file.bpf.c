/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * file.bpf.c: the file family (open, unlink, rename, chmod, chown) -> schema/src/wire/file.rs.
 * Included by rewind.bpf.c.
 */
