#!/bin/sh
# klangk-entrypoint — prepares the workspace user's home, then runs the
# main process (CMD).  Runs as root, once per container start.
#
# The home is a volume mounted at /home/$KLANGK_USER (the controller sets
# KLANGK_USER to the workspace's namespace, the owner's handle).  A fresh
# volume's root belongs to root: it is given to the workspace user, and an
# empty home gets the skeleton dotfiles (copied as that user, never as root,
# since the home's contents are the user's).  Only the mount points
# themselves are chowned, never anything below them: a home is never
# walked as root.
set -eu

user=klangk
handle="${KLANGK_USER:-$user}"
case "$handle" in
'' | *[!a-z0-9-]* | -*) handle="$user" ;;
esac
home="/home/$handle"

# The user's home directory in /etc/passwd follows the handle, so that a
# login shell, tmux and ssh agree on $HOME.
if [ "$(getent passwd "$user" | cut -d: -f6)" != "$home" ]; then
	usermod --home "$home" "$user" 2>/dev/null || true
fi

mkdir -p "$home"
for d in "$home" "$home/work"; do
	[ -d "$d" ] && [ ! -L "$d" ] || continue
	if [ "$(stat -c %u "$d")" = 0 ]; then
		chown "$user:$user" "$d"
		chmod 0755 "$d"
	fi
done
# Files restored by `klangkc import` (which leaves this mark) belong to
# the workspace user, whatever owners the engine gave them.  -h -P: links
# themselves, never what they point to.
if [ -f "$home/.klangk-imported" ] && [ ! -L "$home/.klangk-imported" ]; then
	chown -R -h -P "$user:$user" "$home"
	rm -f "$home/.klangk-imported"
fi
if [ -z "$(ls -A "$home" | grep -v '^work$' || true)" ]; then
	setpriv --reuid="$user" --regid="$user" --init-groups \
		cp -R /etc/skel/. "$home/" || true
fi

# Ready for terminals (klangk-session waits for this start's mark).
mkdir -p /run/klangk
sed 's/^.*) //' /proc/1/stat | cut -d' ' -f20 >/run/klangk/ready.tmp
mv -f /run/klangk/ready.tmp /run/klangk/ready

exec "$@"
