/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rewind.bpf.c: the one BPF object. Each family lives in its own file, included here so
 * that every program shares the ring buffer, the loss counters and the follow map.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#include "exec.bpf.c"
#include "file.bpf.c"
#include "net.bpf.c"
#include "cred.bpf.c"
#include "kernel.bpf.c"
