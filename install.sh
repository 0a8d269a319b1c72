#!/usr/bin/env bash
# install.sh: install mcupdate and hook it into mailcow's update.sh.
#
# update.sh runs `bash pre_update_hook.sh` and `bash post_update_hook.sh`
# from the mailcow directory, so the hooks have to be shell scripts: this
# script writes two small shims there that exec the mcupdate binary with the
# chosen paths. Run it with --help for the details.
#
# Every step checks before it writes, writes through a temp file and a
# rename, and leaves a file alone when it already has the wanted content and
# mode, so a second run changes nothing. What this script created is listed
# in STATE_DIR/install.manifest; --uninstall reads it back.

set -euo pipefail
umask 022

readonly prog=install.sh
readonly shim_marker='# mcupdate-shim v1'
readonly manifest_name=install.manifest
readonly manifest_marker='# mcupdate-install-manifest v1'
readonly exclude_begin='# mcupdate: begin (written by install.sh, removed by install.sh --uninstall)'
readonly exclude_end='# mcupdate: end'
readonly hooks=(pre post)

usage() {
	cat <<'EOF'
usage: install.sh --mailcow-dir DIR [--prefix DIR] [--config-dir DIR] [--state-dir DIR]
       install.sh --uninstall --mailcow-dir DIR [--state-dir DIR] [--purge]
                  [--revert] [--daemon-json FILE]

Installs mcupdate and hooks it into mailcow's update.sh. Run it as root:
update.sh runs the hooks as root.

  --mailcow-dir DIR  the mailcow-dockerized directory (must hold mailcow.conf
                     and .git, as update.sh requires)
  --prefix DIR       the binary goes to DIR/bin/mcupdate (default /usr/local)
  --config-dir DIR   mcupdate.ini goes here (default /etc/mcupdate)
  --state-dir DIR    state, snapshots and reports (default /var/lib/mcupdate)
  --uninstall        undo an installation (see below)
  --purge            with --uninstall: also delete mcupdate.ini and the state
                     dir (it holds snapshots, including copies of mailcow.conf)
  --revert           with --uninstall: first take the enabled patches' edits
                     out of the mailcow dir (mcupdate apply --revert)
  --daemon-json FILE with --uninstall: Docker's daemon.json, whose backup is
                     offered back (default /etc/docker/daemon.json)
  -h, --help         show this help

INSTALL
  The binary is the prebuilt `mcupdate` beside this script if there is one,
  else built with `go build ./cmd/mcupdate` from this script's directory.

  DIR/pre_update_hook.sh and DIR/post_update_hook.sh become shims (marked
  "# mcupdate-shim v1"), made from hooks/update_hook.sh.in (or
  update_hook.sh.in beside this script), that exec mcupdate with `hook pre`
  / `hook post`. If
  the binary is gone, a shim prints an error and exits 0: update.sh goes on
  as it would without mcupdate.

  A hand-written hook already in place is kept, never overwritten: it is
  moved to pre_update_hook.sh.mcupdate-orig (same content and mode) and the
  shim runs it first, with bash, then passes its exit status to mcupdate in
  MCUPDATE_CHAINED_STATUS (and its path in MCUPDATE_CHAINED_HOOK).

  CONFIG_DIR/mcupdate.ini is written (mode 0600: patch parameters may be
  sensitive) only if there is none; an existing one is never touched. The
  state dir is created mode 0700. The shims and *.mcupdate-orig are added to
  the repository's .git/info/exclude, so update.sh's `git add -A` (after a
  merge conflict) does not commit them.

  Running it again with the same options changes nothing and says so. To
  move the installation (other paths), uninstall first.

UNINSTALL
  Reads STATE_DIR/install.manifest (the state dir is found from the shim in
  the mailcow dir when --state-dir is not given) and undoes the install:
  removes the shims and puts the *.mcupdate-orig hooks back, removes the
  binary and the .git/info/exclude lines. mcupdate.ini and the state dir are
  kept unless --purge is given. Without a manifest (state dir deleted by
  hand) the shims still identify themselves: the hooks are restored, and the
  binary and config are removed if --prefix and --config-dir are given.
  It says what it leaves in place: the patches' edits in mailcow's files
  and the IPv6 keys the pre hook added to daemon.json.

  With --revert it first runs `mcupdate apply --revert` (and stops, having
  changed nothing, if that fails): the enabled patches' edits are taken out
  of the tracked files (other edits of yours in them are kept), the files
  they created (such as rspamd's mcupdate_local_addrs.map) are removed and
  their lines taken out of your own files; changed modes and mailcow.conf
  settings are named and left. Then, when daemon.json has a backup from
  mcupdate (daemon.json.mcupdate-TIME.bak), it offers to put the newest
  back (asks on a terminal, else prints the command); Docker is never
  restarted.

EXIT STATUS
  0  installed, uninstalled, or nothing to do
  1  an error; nothing more was changed after it
  2  usage error
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$prog" "$*" >&2; }
hint() { printf '%s: hint: %s\n' "$prog" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}
usage_error() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	hint "run '$0 --help' for usage"
	exit 2
}

# abspath prints $1 as an absolute path without trailing slashes. The shims
# and the manifest hold these paths, so they must not depend on the cwd.
abspath() {
	local p=$1
	case $p in
	*$'\n'*) usage_error "path contains a newline: $p" ;;
	'') usage_error "empty path" ;;
	/*) ;;
	*) p=$PWD/$p ;;
	esac
	while [[ $p == */ && $p != / ]]; do p=${p%/}; done
	printf '%s' "$p"
}

changed=0
note() {
	changed=1
	say "$*"
}

# file_mode prints the permission bits of $1 in octal, e.g. 644.
file_mode() { stat -c %a -- "$1"; }

# sync_paths flushes files or directories to disk; best effort (old
# coreutils' sync takes no arguments).
sync_paths() { sync -- "$@" 2>/dev/null || true; }

# put_from SRC DEST MODE: makes DEST hold a copy of SRC with MODE, through
# a temp file in DEST's directory and a rename, so DEST is never half
# written. Returns 1 without touching anything (not even DEST's directory)
# when DEST already has that content and mode; 0 when it wrote.
put_from() {
	local src=$1 dest=$2 mode=$3 dir tmp
	if [[ -f $dest && ! -L $dest ]] && cmp -s -- "$src" "$dest" && [[ $(file_mode "$dest") == "$mode" ]]; then
		return 1
	fi
	dir=$(dirname -- "$dest")
	tmp=$(mktemp -- "$dir/.${dest##*/}.XXXXXX") || die "cannot create a temp file in $dir"
	if ! cp -- "$src" "$tmp" || ! chmod "$mode" -- "$tmp" || ! sync_paths "$tmp" || ! mv -f -- "$tmp" "$dest"; then
		rm -f -- "$tmp"
		die "cannot write $dest"
	fi
	sync_paths "$dir"
	return 0
}

# yes_no CMD...: prints yes if CMD succeeds, else no.
yes_no() { if "$@"; then echo yes; else echo no; fi; }

is_shim() { [[ -f $1 ]] && grep -q '^# mcupdate-shim v[0-9]' -- "$1"; }

# shim_manifest prints the manifest path a shim records.
shim_manifest() { sed -n 's/^# mcupdate-manifest: //p' -- "$1" | head -n 1; }

# find_exclude prints the mailcow repository's info/exclude file (a
# worktree's too), found the way git finds it; nothing if there is none.
find_exclude() {
	local ex=''
	if command -v git >/dev/null; then
		ex=$(git -C "$mailcow_dir" rev-parse --path-format=absolute --git-path info/exclude 2>/dev/null || true)
	fi
	if [[ -z $ex && -d $mailcow_dir/.git ]]; then
		ex=$mailcow_dir/.git/info/exclude
	fi
	printf '%s' "$ex"
}

# --- manifest ---------------------------------------------------------------
# One key=value per line; values are raw paths (no newlines, checked above)
# or yes/no. Read without eval.

declare -A m=()
read_manifest() {
	local file=$1 line
	m=()
	[[ -f $file ]] || return 1
	IFS= read -r line <"$file" || true
	[[ $line == "$manifest_marker" ]] || die "$file: not an mcupdate install manifest (first line is not \"$manifest_marker\")"
	while IFS= read -r line; do
		[[ $line == \#* || $line != *=* ]] && continue
		m[${line%%=*}]=${line#*=}
	done <"$file"
	return 0
}

write_manifest() {
	local file=$1
	{
		say "$manifest_marker"
		say "# Written by mcupdate's install.sh; install.sh --uninstall reads it."
		say "# created_* = yes: install.sh created it (--uninstall --purge removes it)."
		say "# installed = no: uninstalled; the config and state dir were kept."
		local k
		for k in installed mailcow_dir bin config_dir config state_dir exclude \
			created_config_dir created_config created_state_dir created_exclude; do
			say "$k=${m[$k]:-}"
		done
	} >"$work/manifest"
	put_from "$work/manifest" "$file" 600
}

# --- shims -------------------------------------------------------------------

# shim_text KIND prints the shim for hook KIND (pre or post): the template
# (hooks/update_hook.sh.in, found below) with each @NAME@ replaced in one
# pass, so a path that holds "@BIN@" stays as it is. The paths are quoted
# for the shell; the manifest's is in a comment and stays raw, as
# shim_manifest reads it back.
shim_text() {
	local kind=$1 out='' rest=$shim_template name
	local -A v=(
		[KIND]=$kind
		[MANIFEST]=$manifest
		[BIN]=$(printf '%q' "$bin")
		[MAILCOW_DIR]=$(printf '%q' "$mailcow_dir")
		[CONFIG]=$(printf '%q' "$config")
		[STATE_DIR]=$(printf '%q' "$state_dir")
		[CHAINED]=$(printf '%q' "$mailcow_dir/${kind}_update_hook.sh.mcupdate-orig")
	)
	while [[ $rest =~ @([A-Z_]+)@ ]]; do
		name=${BASH_REMATCH[1]}
		[[ -v v[$name] ]] || die "$shim_template_file: unknown placeholder @$name@"
		out+=${rest%%"${BASH_REMATCH[0]}"*}${v[$name]}
		rest=${rest#*"${BASH_REMATCH[0]}"}
	done
	printf '%s' "$out$rest"
}

# --- arguments ---------------------------------------------------------------

mailcow_dir='' prefix='' config_dir='' state_dir='' uninstall=0 purge=0 revert=0 daemon_json=/etc/docker/daemon.json
while (($#)); do
	opt=$1
	val=''
	case $opt in
	--*=*)
		val=${opt#*=}
		opt=${opt%%=*}
		;;
	esac
	case $opt in
	--mailcow-dir | --prefix | --config-dir | --state-dir | --daemon-json)
		if [[ $1 != *=* ]]; then
			(($# >= 2)) || usage_error "$opt needs a value"
			val=$2
			shift
		fi
		[[ -n $val ]] || usage_error "$opt needs a value"
		case $opt in
		--mailcow-dir) mailcow_dir=$val ;;
		--prefix) prefix=$val ;;
		--config-dir) config_dir=$val ;;
		--state-dir) state_dir=$val ;;
		--daemon-json) daemon_json=$val ;;
		esac
		;;
	--uninstall | --purge | --revert)
		[[ $1 != *=* ]] || usage_error "$opt takes no value"
		case $opt in
		--uninstall) uninstall=1 ;;
		--purge) purge=1 ;;
		--revert) revert=1 ;;
		esac
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) usage_error "unknown option $1" ;;
	esac
	shift
done
[[ -n $mailcow_dir ]] || usage_error "--mailcow-dir is required"
((purge == 0 || uninstall == 1)) || usage_error "--purge only goes with --uninstall"
((revert == 0 || uninstall == 1)) || usage_error "--revert only goes with --uninstall"

# Scratch space for content and builds, outside the target directories: a
# run with nothing to do must not touch them, not even their mtimes.
work=$(mktemp -d) || die "cannot create a temp dir"
# What install.sh puts under PREFIX/share besides the binary: PATH:ARGS
# for the binary that prints it.
extras=("bash-completion/completions/mcupdate:completion bash" "zsh/site-functions/_mcupdate:completion zsh" "man/man1/mcupdate.1:man")
trap 'rm -rf -- "$work"' EXIT

if ((EUID != 0)); then
	warn "not running as root: update.sh runs the hooks as root, and the default paths need root"
fi

mailcow_dir=$(abspath "$mailcow_dir")
[[ -d $mailcow_dir ]] || die "mailcow dir $mailcow_dir: no such directory"
# update.sh's own SCRIPT_DIR is a logical path too.
mailcow_dir=$(cd -- "$mailcow_dir" && pwd)

# --- uninstall -----------------------------------------------------------------

do_uninstall() {
	local kind hook orig mf='' k
	if [[ -n $state_dir ]]; then
		mf=$(abspath "$state_dir")/$manifest_name
	else
		for kind in "${hooks[@]}"; do
			hook=$mailcow_dir/${kind}_update_hook.sh
			if is_shim "$hook"; then
				mf=$(shim_manifest "$hook")
				[[ -n $mf ]] && break
			fi
		done
		[[ -n $mf ]] || mf=/var/lib/mcupdate/$manifest_name
	fi
	if ! read_manifest "$mf"; then
		local any=0
		for kind in "${hooks[@]}"; do
			hook=$mailcow_dir/${kind}_update_hook.sh
			if is_shim "$hook" || [[ -e $hook.mcupdate-orig || -L $hook.mcupdate-orig ]]; then
				any=1
			fi
		done
		if ((any == 0)); then
			say "nothing to do: mcupdate is not installed in $mailcow_dir (no shims, no manifest at $mf)"
			return 0
		fi
		# The state dir was deleted by hand, or is elsewhere: the shims
		# still say what they are, so undo what can be known.
		warn "no install manifest at $mf (pass --state-dir if the state dir is elsewhere);" \
			"restoring the hooks, and removing the binary and config only if --prefix and --config-dir say where they are"
		m=([mailcow_dir]=$mailcow_dir [exclude]=$(find_exclude))
		if [[ -n $prefix ]]; then
			m[bin]=$(abspath "$prefix")/bin/mcupdate
		fi
		if [[ -n $config_dir ]]; then
			m[config_dir]=$(abspath "$config_dir")
			m[config]=${m[config_dir]}/mcupdate.ini
		fi
		mf=''
	else
		for k in prefix config_dir; do
			if [[ -n ${!k} ]]; then
				warn "--${k/_/-} ignored with --uninstall: the paths come from $mf"
			fi
		done
	fi
	[[ ${m[mailcow_dir]:-} == "$mailcow_dir" ]] ||
		die "$mf records mailcow dir ${m[mailcow_dir]:-?}, not $mailcow_dir"

	# The patches' edits first, while mcupdate and its config are there:
	# if that fails, nothing else has changed.
	if ((revert)); then
		[[ -n ${m[bin]:-} && -x ${m[bin]} ]] ||
			die "--revert needs the mcupdate binary (${m[bin]:-unknown: pass --prefix}) to take the patches' edits out; nothing was changed"
		local rargs=(--mailcow-dir "$mailcow_dir")
		[[ -n ${m[config]:-} ]] && rargs+=(--config "${m[config]}")
		[[ -n ${m[state_dir]:-} ]] && rargs+=(--state-dir "${m[state_dir]}")
		"${m[bin]}" "${rargs[@]}" apply --revert ||
			die "mcupdate apply --revert failed (see above); nothing else was changed: fix it, or uninstall without --revert"
		changed=1
	fi

	# Hooks first: from here on update.sh runs as if mcupdate were not there.
	for kind in "${hooks[@]}"; do
		hook=$mailcow_dir/${kind}_update_hook.sh
		orig=$hook.mcupdate-orig
		if is_shim "$hook"; then
			if [[ -e $orig || -L $orig ]]; then
				mv -f -- "$orig" "$hook" || die "cannot move $orig back to $hook"
				note "restored your $hook (from ${orig##*/})"
			else
				rm -f -- "$hook" || die "cannot remove $hook"
				note "removed $hook"
			fi
		elif [[ -e $hook || -L $hook ]]; then
			if [[ -e $orig || -L $orig ]]; then
				warn "$hook is not mcupdate's shim and $orig exists too; left both alone: keep the one you want"
			else
				say "kept $hook: not mcupdate's shim"
			fi
		elif [[ -e $orig || -L $orig ]]; then
			mv -- "$orig" "$hook" || die "cannot move $orig back to $hook"
			note "restored your $hook (from ${orig##*/})"
		fi
	done
	sync_paths "$mailcow_dir"

	if [[ -n ${m[exclude]:-} && -f ${m[exclude]} ]] && grep -qxF -- "$exclude_begin" "${m[exclude]}"; then
		local ex=${m[exclude]}
		awk -v b="$exclude_begin" -v e="$exclude_end" '
			$0 == b { skip = 1; next }
			skip && $0 == e { skip = 0; next }
			!skip { print }' "$ex" >"$work/exclude" || die "cannot read $ex"
		put_from "$work/exclude" "$ex" "$(file_mode "$ex")" || true
		if [[ ${m[created_exclude]:-} == yes && ! -s $ex ]]; then
			rm -f -- "$ex"
		fi
		note "removed mcupdate's lines from $ex"
	fi

	if [[ -z ${m[bin]:-} ]]; then
		hint "the mcupdate binary was left in place: pass --prefix to remove PREFIX/bin/mcupdate"
	elif [[ -e ${m[bin]} ]]; then
		rm -f -- "${m[bin]}" || die "cannot remove ${m[bin]}"
		note "removed ${m[bin]}"
	fi
	if [[ -n ${m[bin]:-} ]]; then
		local f dest share
		share=$(dirname -- "$(dirname -- "${m[bin]}")")/share
		for f in "${extras[@]}"; do
			dest=$share/${f%%:*}
			if [[ -f $dest ]]; then
				rm -f -- "$dest" || die "cannot remove $dest"
				note "removed $dest"
			fi
		done
	fi

	# daemon.json: the pre hook's backup of the original, if any.
	local bak
	bak=$(ls -1 -- "$daemon_json".mcupdate-*.bak 2>/dev/null | LC_ALL=C sort | tail -n 1) || true
	if ((revert)) && [[ -n $bak ]]; then
		local answer=n
		if [[ -t 0 ]]; then
			read -r -p "put $daemon_json back from mcupdate's backup $bak (Docker is not restarted)? [y/N] " answer || answer=n
		fi
		if [[ $answer == [yY]* ]]; then
			cp -p -- "$bak" "$daemon_json" || die "cannot copy $bak to $daemon_json"
			note "put $daemon_json back from $bak; Docker reads it at its next restart"
		else
			say "left $daemon_json as it is; its original before mcupdate: cp -p $bak $daemon_json"
		fi
	elif [[ -n $bak ]]; then
		say "left in place: the IPv6 keys mcupdate's pre hook added to $daemon_json (original: $bak)"
	fi
	if ((!revert)); then
		say "left in place: the enabled patches' edits in $mailcow_dir's files (install.sh --uninstall --revert takes them out)"
	fi

	local cfg=${m[config]:-} cdir=${m[config_dir]:-} sdir=${m[state_dir]:-}
	if ((purge)); then
		if [[ -n $cfg && -e $cfg ]]; then
			rm -f -- "$cfg" || die "cannot remove $cfg"
			note "purged $cfg"
		fi
		if [[ ${m[created_config_dir]:-} == yes && -d $cdir ]]; then
			if rmdir -- "$cdir" 2>/dev/null; then
				note "purged $cdir"
			else
				warn "kept $cdir: it holds files install.sh did not create"
			fi
		fi
		# rm -rf only a directory that proves it is ours.
		if [[ -n $sdir && $sdir != / && -d $sdir && -f $sdir/$manifest_name && $mf == "$sdir/$manifest_name" ]]; then
			rm -rf -- "$sdir" || die "cannot remove $sdir"
			note "purged $sdir"
		elif [[ -d $sdir ]]; then
			warn "kept $sdir: the manifest $mf is not inside it"
		fi
	else
		local kept=()
		[[ -n $cfg && -e $cfg ]] && kept+=("configuration $cfg")
		[[ -n $sdir && -d $sdir ]] && kept+=("state dir $sdir (snapshots, reports)")
		local what
		for what in "${kept[@]}"; do
			say "kept $what; --uninstall --purge removes it"
		done
		if [[ -n $mf && ${m[installed]:-} != no ]]; then
			m[installed]=no
			write_manifest "$mf" || true
		fi
	fi
	if ((changed)); then
		say "mcupdate uninstalled from $mailcow_dir"
	else
		say "nothing to do: mcupdate is not installed in $mailcow_dir"
	fi
}

if ((uninstall)); then
	do_uninstall
	exit 0
fi

# --- install: check everything before writing anything -----------------------

prefix=$(abspath "${prefix:-/usr/local}")
config_dir=$(abspath "${config_dir:-/etc/mcupdate}")
state_dir=$(abspath "${state_dir:-/var/lib/mcupdate}")
bin=$prefix/bin/mcupdate
config=$config_dir/mcupdate.ini
manifest=$state_dir/$manifest_name

[[ -f $mailcow_dir/mailcow.conf ]] ||
	die "$mailcow_dir/mailcow.conf not found: not a configured mailcow dir (update.sh refuses to run without it too)"
[[ -e $mailcow_dir/.git ]] ||
	die "$mailcow_dir/.git not found: update.sh needs the git checkout of mailcow-dockerized"

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

default_config=''
for f in "$here/hooks/mcupdate.ini" "$here/mcupdate.ini"; do
	if [[ -f $f ]]; then
		default_config=$f
		break
	fi
done
[[ -n $default_config ]] || die "default configuration not found: neither $here/hooks/mcupdate.ini nor $here/mcupdate.ini"

# The shim template: in hooks/ of a checkout, or beside install.sh.
shim_template_file=''
for f in "$here/hooks/update_hook.sh.in" "$here/update_hook.sh.in"; do
	if [[ -f $f ]]; then
		shim_template_file=$f
		break
	fi
done
[[ -n $shim_template_file ]] || die "shim template not found: neither $here/hooks/update_hook.sh.in nor $here/update_hook.sh.in"
IFS= read -r -d '' shim_template <"$shim_template_file" || true
[[ $shim_template == "#!/usr/bin/env bash"$'\n'"$shim_marker"$'\n'* ]] ||
	die "$shim_template_file: not mcupdate's shim template (its second line is not \"$shim_marker\")"
shim_text pre >/dev/null # an unknown @NAME@ stops here, before anything is written

# A previous install with other paths would leave its binary or state
# behind: make the admin choose.
if [[ -f $manifest ]]; then
	read_manifest "$manifest"
fi
if [[ ${m[installed]:-} == yes ]]; then
	for k in mailcow_dir bin config state_dir; do
		if [[ -n ${m[$k]:-} && ${m[$k]} != "${!k}" ]]; then
			die "$manifest records $k=${m[$k]}, not ${!k}" \
				"(run install.sh --uninstall --mailcow-dir ${m[mailcow_dir]:-?} --state-dir $state_dir first, or pass the same options)"
		fi
	done
fi
for kind in "${hooks[@]}"; do
	hook=$mailcow_dir/${kind}_update_hook.sh
	orig=$hook.mcupdate-orig
	if is_shim "$hook"; then
		old=$(shim_manifest "$hook")
		if [[ -n $old && $old != "$manifest" ]]; then
			die "$hook belongs to an installation recorded in $old, not $manifest" \
				"(run install.sh --uninstall --mailcow-dir $mailcow_dir first, or pass the same --state-dir)"
		fi
	elif [[ -e $hook || -L $hook ]]; then
		[[ -f $hook ]] || die "$hook is not a regular file; move it away and re-run"
		if [[ -e $orig || -L $orig ]]; then
			die "$hook is a hand-written hook and $orig exists too (kept from an earlier install);" \
				"install.sh overwrites neither: merge them into $orig, delete $hook, and re-run"
		fi
	elif [[ -e $orig || -L $orig ]]; then
		die "$orig exists but $hook does not;" \
			"move it back to $hook (to keep it) or delete it, and re-run"
	fi
done

# The binary: prebuilt beside this script, else go build. Built into a temp
# dir now, so a failing build writes nothing.
if [[ -f $here/mcupdate && -x $here/mcupdate ]]; then
	src_bin=$here/mcupdate
elif [[ -f $here/cmd/mcupdate/main.go ]]; then
	command -v go >/dev/null ||
		die "no prebuilt mcupdate beside $0 and no go on PATH to build one" \
			"(sudo resets PATH: build as yourself with \`go build -o mcupdate ./cmd/mcupdate\` in $here, then re-run)"
	say "building mcupdate with $(go version) ..."
	if ! out=$(cd -- "$here" && go build -trimpath -o "$work/mcupdate" ./cmd/mcupdate 2>&1); then
		# Run as root in a user's checkout, git refuses to read the
		# repository ("dubious ownership") and go build stops: build without
		# the VCS stamp rather than fail.
		if [[ $out == *-buildvcs=false* ]] &&
			out=$(cd -- "$here" && go build -trimpath -buildvcs=false -o "$work/mcupdate" ./cmd/mcupdate 2>&1); then
			warn "built without version control information (git could not read $here)"
		else
			printf '%s\n' "$out" >&2
			die "go build ./cmd/mcupdate failed in $here"
		fi
	fi
	src_bin=$work/mcupdate
else
	die "no prebuilt mcupdate beside $0 and no source (cmd/mcupdate) to build it from in $here"
fi

# --- install: write ------------------------------------------------------------

# The manifest first: if a later step fails, --uninstall still knows what
# may have been created.
# What this run creates, unless an earlier run with the same path already
# recorded it.
if [[ ${m[config_dir]:-} != "$config_dir" || -z ${m[created_config_dir]:-} ]]; then
	m[created_config_dir]=$(yes_no test ! -d "$config_dir")
fi
if [[ ${m[config]:-} != "$config" || -z ${m[created_config]:-} ]]; then
	m[created_config]=$(yes_no test ! -e "$config")
fi
if [[ -z ${m[created_state_dir]:-} ]]; then
	m[created_state_dir]=$(yes_no test ! -d "$state_dir")
fi
m[installed]=yes m[mailcow_dir]=$mailcow_dir m[bin]=$bin m[config_dir]=$config_dir m[config]=$config m[state_dir]=$state_dir

if [[ ! -d $state_dir ]]; then
	if ! mkdir -p -- "$state_dir" || ! chmod 700 -- "$state_dir"; then
		die "cannot create $state_dir"
	fi
	note "created state dir $state_dir (mode 0700)"
fi
if [[ $(file_mode "$state_dir") != 700 ]]; then
	chmod 700 -- "$state_dir" || die "cannot chmod $state_dir"
	note "set $state_dir to mode 0700 (it holds copies of mailcow.conf)"
fi

exclude=$(find_exclude)
if [[ -n $exclude && ${m[exclude]:-} != "$exclude" ]]; then
	m[created_exclude]=$(yes_no test ! -e "$exclude")
fi
m[exclude]=$exclude
if write_manifest "$manifest"; then
	note "wrote $manifest"
fi

# The binary.
mkdir -p -- "$prefix/bin" || die "cannot create $prefix/bin"
if put_from "$src_bin" "$bin" 755; then
	note "installed $bin (from $src_bin)"
fi

# Shell completions and the manual page, made by the binary just
# installed, where Debian's bash-completion, zsh and man look under PREFIX.
for f in "${extras[@]}"; do
	dest=$prefix/share/${f%%:*}
	mkdir -p -- "$(dirname -- "$dest")" || die "cannot create $(dirname -- "$dest")"
	read -r -a words <<<"${f#*:}"
	"$bin" "${words[@]}" >"$work/extra" || die "$bin ${f#*:} failed"
	if put_from "$work/extra" "$dest" 644; then
		note "installed $dest"
	fi
done

# The configuration: written once, never overwritten.
if [[ ! -d $config_dir ]]; then
	mkdir -p -- "$config_dir" || die "cannot create $config_dir"
	note "created $config_dir"
fi
if [[ -e $config || -L $config ]]; then
	say "kept your $config"
else
	put_from "$default_config" "$config" 600 || true
	note "wrote the default configuration to $config (mode 0600; edit it to enable patches)"
fi

# The exclude lines.
if [[ -n $exclude ]]; then
	if ! { [[ -f $exclude ]] && grep -qxF -- "$exclude_begin" "$exclude"; }; then
		mkdir -p -- "$(dirname -- "$exclude")" || die "cannot create $(dirname -- "$exclude")"
		{
			cat -- "$exclude" 2>/dev/null || true
			say "$exclude_begin"
			for kind in "${hooks[@]}"; do say "/${kind}_update_hook.sh"; done
			say "/*.mcupdate-orig"
			# update.sh's version of an override the post hook restored.
			say "*.mcupdate-new"
			say "$exclude_end"
		} >"$work/exclude"
		put_from "$work/exclude" "$exclude" "$(file_mode "$exclude" 2>/dev/null || echo 644)" || true
		note "added the shims to $exclude (so update.sh's git add -A leaves them out)"
	fi
else
	warn "no .git/info/exclude found in $mailcow_dir: git status will list the shims as untracked"
fi

# The shims, last: they hand over to a binary that is now in place. A
# hand-written hook is hard-linked to .mcupdate-orig before the shim
# replaces it by a rename, so at no moment is there no hook.
for kind in "${hooks[@]}"; do
	hook=$mailcow_dir/${kind}_update_hook.sh
	orig=$hook.mcupdate-orig
	shim_text "$kind" >"$work/shim" || die "cannot write $work/shim"
	if [[ -e $hook ]] && ! is_shim "$hook"; then
		if ! ln -P -- "$hook" "$orig" 2>/dev/null && ! cp -a -- "$hook" "$orig"; then
			die "cannot keep your $hook as $orig"
		fi
		if git -C "$mailcow_dir" ls-files --error-unmatch -- "${hook##*/}" >/dev/null 2>&1; then
			warn "${hook##*/} is tracked by git: update.sh's \`git commit -am\` will record it as changed"
		fi
		put_from "$work/shim" "$hook" 755 || true
		note "kept your $hook as ${orig##*/}: the shim runs it first, then mcupdate"
	elif put_from "$work/shim" "$hook" 755; then
		if [[ -e $orig ]]; then
			note "wrote $hook (runs ${orig##*/} first, then mcupdate)"
		else
			note "wrote $hook"
		fi
	fi
done

if ((changed)); then
	say "mcupdate installed: update.sh in $mailcow_dir now runs it before and after each update"
	say "next: edit $config to enable patches, then check with: $bin --mailcow-dir $mailcow_dir --config $config --state-dir $state_dir verify"
else
	say "nothing to do: mcupdate is already installed in $mailcow_dir with these paths"
fi
