/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * probe.bpf.c: a separate, tiny object whose programs do nothing. The loader loads and
 * attaches each one alone at start to learn whether this kernel allows the program type
 * (fentry/fexit need BPF trampolines and BTF of the target; BPF LSM needs "bpf" among the
 * active LSMs; either may be refused by lockdown or policy), before the real object is
 * loaded with the better hooks on or off. Checked against Linux 6.18.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/commit_creds")
int BPF_PROG(probe_fentry, struct cred *new)
{
	return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(probe_lsm, struct linux_binprm *bprm, int ret)
{
	return ret;
}
