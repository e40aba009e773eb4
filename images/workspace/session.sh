#!/bin/sh
# klangk-session CMD [ARG...] — what `klangkc exec` runs its command
# through (the image label io.klangk.workspace.session names it): waits
# until the entrypoint of this container start has prepared the home (an
# exec can arrive the moment the engine reports the container running,
# before the entrypoint ran), then runs CMD.
#
# The entrypoint writes the start time of PID 1 (/proc/1/stat, in clock
# ticks since boot) to /run/klangk/ready: a value left by an earlier start
# of the same container never matches.
want="$(sed 's/^.*) //' /proc/1/stat | cut -d' ' -f20)"
i=0
while [ "$(cat /run/klangk/ready 2>/dev/null)" != "$want" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		echo "klangk-session: the workspace's entrypoint has not finished; going on" >&2
		break
	fi
	sleep 0.05
done
exec "$@"
