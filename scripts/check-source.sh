#!/bin/sh
# Source checks run by the test command: formatting (the repository's
# .clang-format, kernel style) and close-on-exec on every descriptor the C
# code opens (a call that opens one must name O_CLOEXEC, SOCK_CLOEXEC,
# F_DUPFD_CLOEXEC, an "e" fopen mode, or go through RESOLVE_ flags that the
# same call sets; pipe() must be pipe2(); inotify_init1, eventfd,
# epoll_create1 and the like must name their own *_CLOEXEC flag).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

status=0
files=$(ls core/*.[ch] fs/*.[ch] mount-helper/*.c tests/unit/*.[ch] tests/fuzz/*.c tests/godiff/*.c bench/*.c)
if ! clang-format --dry-run --Werror $files; then
	echo "check-source: run clang-format -i on the files above" >&2
	status=1
fi

bad=$(grep -nE '\b(open|openat|openat2|socket|accept|pipe|dup|fopen)\s*\(' core/*.c fs/*.c mount-helper/*.c |
	grep -vE 'O_CLOEXEC|SOCK_CLOEXEC|pipe2|F_DUPFD_CLOEXEC|"[a-z+]*e[a-z+]*"|^\S+:\s*(/\*|\*|//)' || true)
# inotify, eventfd and epoll descriptors name their own close-on-exec flags.
bad="$bad
$(grep -nE '\b(inotify_init1?|eventfd|epoll_create1?|signalfd|timerfd_create|memfd_create)\s*\(' core/*.c fs/*.c mount-helper/*.c |
	grep -vE 'IN_CLOEXEC|EFD_CLOEXEC|EPOLL_CLOEXEC|SFD_CLOEXEC|TFD_CLOEXEC|MFD_CLOEXEC|^\S+:\s*(/\*|\*|//)' || true)"
# tree.h's TREE_DIR_O_CLOEXEC must hold what its name says.
grep -q 'define TREE_DIR_O_CLOEXEC .*| O_CLOEXEC)' core/tree.h || bad="$bad
core/tree.h: TREE_DIR_O_CLOEXEC lacks O_CLOEXEC"
bad=$(printf '%s\n' "$bad" | grep . || true)
if [ -n "$bad" ]; then
	echo "check-source: descriptors opened without close-on-exec:" >&2
	printf '%s\n' "$bad" >&2
	status=1
fi
[ $status -eq 0 ] && echo "check-source: formatting and close-on-exec OK"
exit $status
