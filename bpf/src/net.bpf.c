/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * net.bpf.c: the network family (connect, accept, listen, bind, close with byte counts,
 * UDP, payload snippets, DNS) -> schema/src/wire/net.rs. Included by rewind.bpf.c.
 */
