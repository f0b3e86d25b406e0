/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for containerd-shim-runc-v2 in test_status, built as
 * containerd-shim-bfstest: the name of its executable is what makes it a
 * shim (shimproc.h). It keeps whatever descriptors it was started with (the
 * listening socket its parent made, as the shim's `start` hands its socket
 * on) and waits to be killed.
 */
#include <unistd.h>

int main(void)
{
	for (;;)
		pause();
}
