#!/usr/bin/env bash
# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
#
# deploy_to_containers.sh: install the XLoud Nova artifact (the patched nova
# wheel) into running Nova containers on one or more hosts, over ssh, with a
# backup, a verification and an automatic restore of any container whose
# deployment fails. See upgrade/RSYNC_DEPLOYMENT_GUIDE.md.
#
#   deploy_to_containers.sh [deploy] [options]   install the artifact
#   deploy_to_containers.sh verify [options]     does each container match it?
#   deploy_to_containers.sh rollback [options]   restore a backup
#   deploy_to_containers.sh list-backups [options]
#
# Settings (environment, or the flag after each):
#   TARGET_HOST         --host H      ssh destination(s), required; several
#                                     separated by spaces or commas, or the
#                                     flag repeated (user@host, ssh://h:port)
#   CONTAINER_NAME      --container C container(s); default nova_conductor
#                                     nova_scheduler nova_compute nova_api
#   NOVA_SITE_PACKAGES  --site-packages P
#                                     default /usr/local/lib/python3.X/
#                                     site-packages (X: the series' oldest
#                                     Python), else detected in the
#                                     container from its python3
#   SSH_USER            --ssh-user U
#   SSH_OPTIONS         --ssh-options "..."  extra ssh options
#   ARTIFACT            --artifact W  the wheel (default: the newest one in
#                                     build/<series>/dist); its manifest is
#                                     W.manifest.json (MANIFEST to override)
#   DRY_RUN=1           --dry-run     preflight only; print what would change
#   FORCE=1             --force       deploy over another version of the
#                                     same release (e.g. 29.3.0 for a 29.4.0
#                                     wheel); a container holding another
#                                     release (another major version) is
#                                     always refused, before any change
#   BACKUP_DIR          --backup-dir D  on each host; default
#                                     /var/lib/xloud-nova/backups; a %h in
#                                     it is replaced by the host as given
#                                     (for a folder shared by several hosts)
#   BACKUP              --backup NAME   rollback: which backup (default the
#                                     latest of each container)
#   DOCKER              docker command on the hosts (default docker)
#   CONTAINER_PYTHON    python in the containers (default python3)
#   REMOTE_WORKDIR      upload folder on the hosts (default /var/tmp/xloud-nova;
#                       %h as for BACKUP_DIR)
#
# Exit status: 0 success (or nothing to do), 1 a failure (said on stderr),
# 2 a usage error.
set -euo pipefail

PROG=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd)
HELPER=$HERE/lib/xloud_incontainer.py
DEFAULT_CONTAINERS="nova_conductor nova_scheduler nova_compute nova_api"

log() { printf '%s %s\n' "[$(date -u +%H:%M:%S)]" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 2; }

# ------------------------------------------------------------------ options
CMD=deploy
HOSTS_RAW=${TARGET_HOST:-}
CONTAINERS_RAW=${CONTAINER_NAME:-}
SITE_PACKAGES=${NOVA_SITE_PACKAGES:-}
SSH_USER=${SSH_USER:-}
SSH_OPTIONS=${SSH_OPTIONS:-}
ARTIFACT=${ARTIFACT:-}
MANIFEST=${MANIFEST:-}
DRY_RUN=${DRY_RUN:-0}
FORCE=${FORCE:-0}
BACKUP_DIR_SETTING=${BACKUP_DIR:-/var/lib/xloud-nova/backups}
BACKUP=${BACKUP:-}
DOCKER=${DOCKER:-docker}
CONTAINER_PYTHON=${CONTAINER_PYTHON:-python3}
REMOTE_WORKDIR_SETTING=${REMOTE_WORKDIR:-/var/tmp/xloud-nova}
INJECT=${XLOUD_INJECT_FAILURE:-}   # test hook: make one step fail

case ${1:-} in
    deploy|verify|rollback|list-backups) CMD=$1; shift ;;
    -h|--help) sed -n '4,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
need_arg() { [ $# -ge 2 ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case $1 in
        --host) need_arg "$@"; HOSTS_RAW="$HOSTS_RAW $2"; shift 2 ;;
        --container) need_arg "$@"; CONTAINERS_RAW="$CONTAINERS_RAW $2"; shift 2 ;;
        --site-packages) need_arg "$@"; SITE_PACKAGES=$2; shift 2 ;;
        --ssh-user) need_arg "$@"; SSH_USER=$2; shift 2 ;;
        --ssh-options) need_arg "$@"; SSH_OPTIONS=$2; shift 2 ;;
        --artifact) need_arg "$@"; ARTIFACT=$2; shift 2 ;;
        --manifest) need_arg "$@"; MANIFEST=$2; shift 2 ;;
        --backup-dir) need_arg "$@"; BACKUP_DIR_SETTING=$2; shift 2 ;;
        --backup) need_arg "$@"; BACKUP=$2; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '4,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) usage_error "unknown argument: $1 (see --help)" ;;
    esac
done

read -r -a HOSTS <<< "${HOSTS_RAW//,/ }"
[ "${#HOSTS[@]}" -gt 0 ] || usage_error "TARGET_HOST is required (no default): the ssh destination(s) to deploy to, e.g. TARGET_HOST=compute1 or --host compute1 --host compute2"
EXPLICIT_CONTAINERS=1
if [ -z "${CONTAINERS_RAW// /}" ]; then
    CONTAINERS_RAW=$DEFAULT_CONTAINERS
    EXPLICIT_CONTAINERS=0
fi
read -r -a CONTAINERS <<< "${CONTAINERS_RAW//,/ }"
read -r -a SSH_OPTS <<< "$SSH_OPTIONS"
case $DRY_RUN in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac
case $FORCE in 1|true|yes) FORCE=1 ;; *) FORCE=0 ;; esac

# Restart order: the conductor first, the API last.
role_rank() {
    case $1 in
        *conductor*) echo 0 ;; *scheduler*) echo 1 ;; *compute*) echo 2 ;;
        *api*) echo 3 ;; *) echo 4 ;;
    esac
}
in_restart_order() {
    local c
    for c in "$@"; do printf '%s %s\n' "$(role_rank "$c")" "$c"; done \
        | sort -s -n -k1,1 | cut -d' ' -f2
}

# ---------------------------------------------------------------- artifact
find_artifact() {
    if [ -z "$ARTIFACT" ]; then
        local newest
        newest=$(find "$HERE/../build" -path '*/dist/nova-*+xloud*.whl' -printf '%T@ %p\n' 2>/dev/null \
                 | sort -n | tail -n1 | cut -d' ' -f2-)
        [ -n "$newest" ] || die "no ARTIFACT given and none built (tox -e build)"
        ARTIFACT=$newest
    fi
    [ -f "$ARTIFACT" ] || die "artifact $ARTIFACT does not exist"
    MANIFEST=${MANIFEST:-$ARTIFACT.manifest.json}
    [ -f "$MANIFEST" ] || die "no manifest $MANIFEST: python3 upgrade/xloud_artifact.py manifest $ARTIFACT"
    command -v python3 >/dev/null || die "python3 is needed on this machine to read the manifest"
    local fields
    fields=$(python3 - "$MANIFEST" "$ARTIFACT" <<'PY'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
h = hashlib.sha256(open(sys.argv[2], 'rb').read()).hexdigest()
if h != m['artifact_sha256']:
    sys.exit('the manifest %s is for another artifact (sha256 %s, not %s)'
             % (sys.argv[1], m['artifact_sha256'], h))
print(m['version'], m['upstream_version'], m['artifact_sha256'],
      m.get('series', 'unknown'))
PY
) || die "manifest check failed"
    read -r VERSION UPSTREAM_VERSION ARTIFACT_SHA SERIES <<< "$fields"
    # The wheel's own name says which nova it is built on: the manifest
    # must agree (a manifest copied from another series is refused).
    case $(basename "$ARTIFACT") in
        "nova-$UPSTREAM_VERSION+"*) ;;
        *) die "artifact $(basename "$ARTIFACT") is not a build of nova $UPSTREAM_VERSION, which its manifest $MANIFEST says ($SERIES)" ;;
    esac
    [ "${VERSION%%+*}" = "$UPSTREAM_VERSION" ] \
        || die "manifest $MANIFEST: version $VERSION is not a build of nova $UPSTREAM_VERSION"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/xloud-deploy.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    # The in-container helper, with the manifest in front of it.
    {
        printf 'MANIFEST_B64 = "'
        python3 -c 'import base64, sys, zlib; sys.stdout.write(base64.b64encode(zlib.compress(open(sys.argv[1], "rb").read(), 9)).decode())' "$MANIFEST"
        printf '"\n'
        cat "$HELPER"
    } > "$WORK/helper.py"
}

# ------------------------------------------------------------------ remote
HOST=""
dest() {
    case $1 in
        *@*|ssh://*) printf '%s' "$1" ;;
        *) if [ -n "$SSH_USER" ]; then printf '%s@%s' "$SSH_USER" "$1"; else printf '%s' "$1"; fi ;;
    esac
}
# remote CMD...: run a command on $HOST (quoted for its shell), stdin passed.
remote() {
    local quoted
    quoted=$(printf '%q ' "$@")
    ssh "${SSH_OPTS[@]}" -o BatchMode=yes "$(dest "$HOST")" -- "$quoted"
}
# remote_sh SCRIPT: run a shell snippet on $HOST (used for redirections).
remote_sh() { ssh "${SSH_OPTS[@]}" -o BatchMode=yes "$(dest "$HOST")" -- "$1"; }
q() { printf '%q' "$1"; }

# helper C ARGS...: run the in-container helper in container C.
helper() {
    local c=$1; shift
    remote "$DOCKER" exec -i -e "NOVA_SITE_PACKAGES=$SITE_PACKAGES" \
        -e "XLOUD_INJECT_FAILURE=$(inject_for "$c")" "$c" "$CONTAINER_PYTHON" -B - "$@" < "$WORK/helper.py"
}
json_field() { python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1"; }

# Test hook: XLOUD_INJECT_FAILURE=<step> or <step>@<container> makes that
# step fail (steps: upload preflight backup backup-stream install
# install-swap clear-bytecode verify restart; the ones the helper runs fail
# inside the container, after it has changed something).
inject_for() {  # the value the helper gets in container $1
    case $INJECT in
        *@"$1") printf '%s' "${INJECT%@*}" ;;
        *@*) ;;
        *) printf '%s' "$INJECT" ;;
    esac
}
inject() {  # inject STEP [CONTAINER]
    if [ -n "$INJECT" ] && [ "$(inject_for "${2:-}")" = "$1" ]; then
        echo "injected failure at $1" >&2
        return 1
    fi
}

container_running() {
    local state
    state=$(remote "$DOCKER" inspect -f '{{.State.Running}}' "$1" 2>/dev/null) || return 2
    [ "$state" = "true" ]
}

# other_release VERSIONS: print the installed version(s) and succeed when
# one of them is of another release than the wheel's (another major
# version: 29 is 2024.1, 33 is 2026.1, ...). No FORCE deploys across
# releases: the database schema, RPC and the patch set itself differ.
other_release() {
    local v
    for v in $1; do
        if [ "${v%%.*}" != "${UPSTREAM_VERSION%%.*}" ]; then
            printf '%s' "$1"
            return 0
        fi
    done
    return 1
}
refusal() {  # refusal CONTAINER VERSIONS
    printf 'wheel is for nova %s (%s), container %s has nova %s: refusing' \
        "$UPSTREAM_VERSION" "$SERIES" "$1" "$2"
}

# check_release_all_hosts: before anything changes on any host, refuse if
# a container of any host holds another release's nova. Read only.
check_release_all_hosts() {
    local c info other refused=()
    for HOST in "${HOSTS[@]}"; do
        log "host $HOST: release check (nova $UPSTREAM_VERSION, $SERIES)"
        remote true || die "host $HOST: ssh failed (TARGET_HOST=$HOST, SSH_OPTIONS=$SSH_OPTIONS)"
        for c in "${CONTAINERS[@]}"; do
            # missing containers, failing helpers: the host's own
            # preflight reports them
            container_running "$c" || continue
            info=$(helper "$c" info 2>/dev/null) || continue
            if other=$(other_release "$(json_field versions <<< "$info")"); then
                refused+=("host $HOST: $(refusal "$c" "$other")")
            fi
        done
    done
    if [ "${#refused[@]}" -gt 0 ]; then
        printf '%s\n' "${refused[@]}" >&2
        die "${refused[0]}$( [ "${#refused[@]}" -gt 1 ] && printf ' (and %d more, above)' $((${#refused[@]} - 1))); no host was changed"
    fi
}

preflight_host() {
    log "host $HOST: preflight"
    remote true || die "host $HOST: ssh failed (TARGET_HOST=$HOST, SSH_OPTIONS=$SSH_OPTIONS)"
    remote sh -c "command -v $(q "$DOCKER")" >/dev/null || die "host $HOST: no '$DOCKER' command"
}

upload_artifact() {
    local have
    inject upload || return 1
    have=$(remote_sh "sha256sum $(q "$REMOTE_DIR/$(basename "$ARTIFACT")") 2>/dev/null | cut -d' ' -f1" || true)
    if [ "$have" = "$ARTIFACT_SHA" ]; then
        log "host $HOST: artifact already uploaded ($REMOTE_DIR)"
        return 0
    fi
    log "host $HOST: uploading $(basename "$ARTIFACT") to $REMOTE_DIR"
    remote mkdir -p "$REMOTE_DIR" || return 1
    local target
    target=$REMOTE_DIR/$(basename "$ARTIFACT")
    remote_sh "cat > $(q "$target.part") && mv $(q "$target.part") $(q "$target")" < "$ARTIFACT" || return 1
    have=$(remote_sh "sha256sum $(q "$target") | cut -d' ' -f1") || return 1
    [ "$have" = "$ARTIFACT_SHA" ] || { echo "uploaded artifact has sha256 $have, not $ARTIFACT_SHA" >&2; return 1; }
}

# ------------------------------------------------------------------ deploy
# Per container state (indexed by name) for the current host.
declare -A BACKUP_OF=()
declare -A CHANGED=()
FAILED_STEP=""
FAILED_WHY=""

fail() { FAILED_STEP=$1; FAILED_WHY=$2; return 1; }

cstage() { echo "/tmp/xloud-nova-deploy"; }

backup_container() {
    local c=$1 ts file
    ts=$(date -u +%Y%m%dT%H%M%SZ)
    file=$BACKUP_DIR/$c/$ts-$2.tar.gz
    local n=1
    while remote test -e "$file"; do file=$BACKUP_DIR/$c/$ts.$n-$2.tar.gz; n=$((n + 1)); done
    inject backup "$c" || return 1
    remote mkdir -p "$BACKUP_DIR/$c" || return 1
    remote_sh "$(q "$DOCKER") exec -i -e NOVA_SITE_PACKAGES=$(q "$SITE_PACKAGES") -e XLOUD_INJECT_FAILURE=$(q "$(inject_for "$c")") $(q "$c") $(q "$CONTAINER_PYTHON") -B - backup > $(q "$file.part") && gzip -t $(q "$file.part") && mv $(q "$file.part") $(q "$file") || { rm -f $(q "$file.part"); exit 1; }" \
        < "$WORK/helper.py" || return 1
    BACKUP_OF[$c]=$file
    log "  $c: backup $file ($(remote_sh "du -h $(q "$file") | cut -f1"))"
}

copy_into() {  # copy_into C HOSTFILE NAME: host file into the container's stage
    local c=$1
    remote "$DOCKER" exec "$c" mkdir -p "$(cstage)" || return 1
    remote "$DOCKER" cp "$2" "$c:$(cstage)/$3" || return 1
}
clean_stage() { remote "$DOCKER" exec "$1" rm -rf "$(cstage)" >/dev/null 2>&1 || true; }

restore_container() {
    local c=$1 file=${BACKUP_OF[$1]:-}
    if [ -z "$file" ]; then
        log "  $c: nothing to restore (no backup was taken, nothing was changed)"
        return 0
    fi
    log "  $c: restoring from $file"
    if ! { copy_into "$c" "$file" backup.tar.gz &&
           helper "$c" restore "$(cstage)/backup.tar.gz" >/dev/null &&
           helper "$c" compare-tar "$(cstage)/backup.tar.gz" | grep -q '"same": true'; }; then
        clean_stage "$c"
        log "  $c: RESTORE FAILED: restore it by hand from $file (see RSYNC_DEPLOYMENT_GUIDE.md)"
        return 1
    fi
    clean_stage "$c"
    unset "CHANGED[$c]"
    log "  $c: restored"
}

# preflight_container C: read-only; sets TODO[C] to the installed version
# when C needs the artifact, leaves it unset when C already has it.
declare -A TODO=()
preflight_container() {
    local c=$1 info sp pyver versions
    info=$(helper "$c" info 2>&1) || { fail preflight "$c: $info"; return 1; }
    sp=$(json_field site_packages <<< "$info")
    pyver=$(json_field python <<< "$info")
    versions=$(json_field versions <<< "$info")
    log "  $c: python $pyver, site-packages $sp ($(json_field site_packages_source <<< "$info")), nova ${versions:-none}"
    inject preflight "$c" || { fail preflight "$c: injected"; return 1; }
    if [ "$versions" = "$VERSION" ]; then
        local rec
        rec=$(helper "$c" record) || { fail preflight "$c: record check failed"; return 1; }
        if grep -q '"in_sync": true' <<< "$rec"; then
            log "  $c: already deployed ($VERSION, every file matches the artifact)"
            return 0
        fi
        log "  $c: $VERSION installed but the files differ from the artifact: redeploying"
    elif [ "${versions%%+*}" != "$UPSTREAM_VERSION" ] || [[ $versions == *" "* ]]; then
        local other
        if other=$(other_release "$versions"); then
            fail preflight "$(refusal "$c" "$other")"
            return 1
        fi
        if [ "$FORCE" != 1 ]; then
            fail preflight "$c: installed nova is '${versions:-none}', not $UPSTREAM_VERSION (the release this wheel is for, $SERIES); refusing (FORCE=1 to override)"
            return 1
        fi
        log "  $c: installed nova '$versions' is not $UPSTREAM_VERSION: going on (FORCE=1)"
    fi
    TODO[$c]=${versions:-none}
}

deploy_container() {
    local c=$1 out
    if [ "$DRY_RUN" = 1 ]; then
        log "  $c: DRY RUN: would back up nova/ and nova-${TODO[$c]}.dist-info to $BACKUP_DIR/$c/, install $VERSION, clear bytecode, verify, restart"
        return 0
    fi
    backup_container "$c" "${TODO[$c]}" || { fail backup "$c: backup failed"; return 1; }
    CHANGED[$c]=1
    out=$( { inject install "$c" && copy_into "$c" "$REMOTE_DIR/$(basename "$ARTIFACT")" artifact.whl && \
             helper "$c" install "$(cstage)/artifact.whl"; } 2>&1) || { fail install "$c: $out"; return 1; }
    log "  $c: installed $VERSION"
    out=$(helper "$c" clear-bytecode 2>&1) || { fail clear-bytecode "$c: $out"; return 1; }
    log "  $c: cleared stale bytecode $out"
    out=$(helper "$c" verify 2>&1) || { fail verify "$c: $out"; return 1; }
    log "  $c: verified $out"
    clean_stage "$c"
}

restart_in_order() {
    local c
    for c in $(in_restart_order "$@"); do
        log "  restarting $c"
        inject restart "$c" || return 1
        remote "$DOCKER" restart "$c" >/dev/null || return 1
        container_running "$c" || { echo "$c is not running after restart" >&2; return 1; }
    done
}

deploy_host() {
    BACKUP_OF=()
    CHANGED=()
    preflight_host
    local present=() c st
    for c in "${CONTAINERS[@]}"; do
        if container_running "$c"; then
            present+=("$c")
        else
            st=$?
            if [ "$st" = 2 ] && [ "$EXPLICIT_CONTAINERS" = 0 ]; then
                log "host $HOST: no container $c here, skipped"
            elif [ "$st" = 2 ]; then
                die "host $HOST: container $c does not exist"
            else
                die "host $HOST: container $c is not running"
            fi
        fi
    done
    [ "${#present[@]}" -gt 0 ] || die "host $HOST: none of ${CONTAINERS[*]} exists"
    TODO=()
    for c in "${present[@]}"; do
        preflight_container "$c" || on_failure
    done
    local todo=()
    for c in "${present[@]}"; do
        if [ -n "${TODO[$c]:-}" ]; then todo+=("$c"); fi
    done
    if [ "${#todo[@]}" -gt 0 ]; then
        if [ "$DRY_RUN" = 1 ]; then
            log "host $HOST: DRY RUN: would upload $(basename "$ARTIFACT") to $REMOTE_DIR"
        else
            upload_artifact || { FAILED_STEP=upload; FAILED_WHY="upload of the artifact to $REMOTE_DIR failed"; on_failure; }
        fi
    fi
    for c in "${todo[@]}"; do
        deploy_container "$c" || on_failure
    done
    local changed=()
    for c in "${present[@]}"; do
        if [ -n "${CHANGED[$c]:-}" ]; then changed+=("$c"); fi
    done
    if [ "${#changed[@]}" -eq 0 ]; then
        if [ "$DRY_RUN" = 1 ]; then
            log "host $HOST: DRY RUN: nothing was changed"
        else
            log "host $HOST: already deployed: nothing to do"
        fi
        return 0
    fi
    log "host $HOST: restarting in order: $(in_restart_order "${changed[@]}" | tr '\n' ' ')"
    local out
    if ! out=$(restart_in_order "${changed[@]}" 2>&1); then
        printf '%s\n' "$out"
        FAILED_STEP=restart
        FAILED_WHY=$(tail -n1 <<< "$out")
        on_failure restart
    fi
    printf '%s\n' "$out"
    log "host $HOST: deployed $VERSION to ${changed[*]}"
}

# A failure: restore every container changed on this host in this run (they
# have not served a request with the new code unless the restart was under
# way), restart what was restarted, and stop.
on_failure() {
    local c restored=() bad=()
    log "host $HOST: FAILED at step '$FAILED_STEP': $FAILED_WHY"
    for c in "${!CHANGED[@]}"; do
        if restore_container "$c"; then restored+=("$c"); else bad+=("$c"); fi
    done
    if [ "${1:-}" = restart ] && [ "${#restored[@]}" -gt 0 ]; then
        restart_in_order "${restored[@]}" || bad+=("(restart)")
    fi
    local msg="deployment to host $HOST failed at step '$FAILED_STEP': $FAILED_WHY"
    if [ "${#restored[@]}" -gt 0 ]; then
        msg="$msg; restored from backup: ${restored[*]}"
    elif [ "${#bad[@]}" -eq 0 ]; then
        msg="$msg; no container had been changed"
    fi
    if [ "${#bad[@]}" -gt 0 ]; then msg="$msg; RESTORE FAILED for ${bad[*]} (see above)"; fi
    die "$msg"
}

# ------------------------------------------------------------------ verify
verify_host() {
    preflight_host
    local c rec drift=0
    for c in "${CONTAINERS[@]}"; do
        if ! container_running "$c"; then
            if [ "$EXPLICIT_CONTAINERS" = 0 ]; then continue; fi
            log "  $c: NOT RUNNING"; drift=1; continue
        fi
        rec=$(helper "$c" record) || { log "  $c: record check failed"; drift=1; continue; }
        if grep -q '"in_sync": true' <<< "$rec"; then
            local v
            if v=$(helper "$c" verify 2>&1); then
                log "  $c: in sync with $VERSION ($(json_field files <<< "$rec") files match; $v)"
            else
                log "  $c: files match but verify failed: $v"; drift=1
            fi
        else
            drift=1
            python3 -c "$DRIFT_REPORT" "$c" <<< "$rec" || true
        fi
    done
    return "$drift"
}
DRIFT_REPORT=$(cat <<'PY'
import json, sys
r = json.load(sys.stdin)
c = sys.argv[1]
print('  %s: DRIFT from %s: installed %s; %d missing, %d changed, %d extra'
      % (c, r['version'], ' '.join(r['installed']) or 'nothing',
         len(r['missing']), len(r['changed']), len(r['extra'])))
for kind in ('missing', 'changed', 'extra'):
    for p in r[kind][:5]:
        print('    %s %s' % (kind, p))
    if len(r[kind]) > 5:
        print('    ... %d more %s' % (len(r[kind]) - 5, kind))
PY
)

# ---------------------------------------------------------------- rollback
list_backups_host() {
    local c
    for c in "${CONTAINERS[@]}"; do
        log "  $c:"
        remote_sh "ls -1 $(q "$BACKUP_DIR/$c") 2>/dev/null | grep '\\.tar\\.gz\$' | sort" | sed 's/^/      /' || true
    done
}

rollback_host() {
    preflight_host
    local c file restored=()
    BACKUP_OF=()
    for c in "${CONTAINERS[@]}"; do
        if ! container_running "$c"; then
            if [ "$EXPLICIT_CONTAINERS" = 0 ]; then continue; fi
            die "host $HOST: container $c is not running"
        fi
        if [ -n "$BACKUP" ]; then
            file=$BACKUP_DIR/$c/$(basename "$BACKUP")
            remote test -f "$file" || die "host $HOST: no backup $file"
        else
            file=$(remote_sh "ls -1 $(q "$BACKUP_DIR/$c") 2>/dev/null | grep '\\.tar\\.gz\$' | sort | tail -n1")
            [ -n "$file" ] || die "host $HOST: no backup of $c in $BACKUP_DIR/$c"
            file=$BACKUP_DIR/$c/$file
        fi
        if [ "$DRY_RUN" = 1 ]; then
            log "  $c: DRY RUN: would restore $file"
            continue
        fi
        BACKUP_OF[$c]=$file
        restore_container "$c" || die "host $HOST: rollback of $c from $file failed"
        restored+=("$c")
    done
    [ "${#restored[@]}" -gt 0 ] || return 0
    restart_in_order "${restored[@]}" || die "host $HOST: restart after rollback failed"
    for c in "${restored[@]}"; do
        local out
        copy_into "$c" "${BACKUP_OF[$c]}" backup.tar.gz || die "host $HOST: $c: cannot copy the backup in to verify"
        out=$(helper "$c" compare-tar "$(cstage)/backup.tar.gz") || die "host $HOST: $c: verify after rollback failed"
        clean_stage "$c"
        grep -q '"same": true' <<< "$out" || die "host $HOST: $c: after rollback the tree differs from ${BACKUP_OF[$c]}: $out"
        remote "$DOCKER" exec "$c" "$CONTAINER_PYTHON" -B -c 'import nova' \
            || die "host $HOST: $c: nova does not import after rollback"
        log "  $c: rolled back to $(basename "${BACKUP_OF[$c]}") (tree matches the backup, nova imports)"
    done
}

# -------------------------------------------------------------------- main
T0=$SECONDS
case $CMD in
    deploy) find_artifact; check_release_all_hosts ;;
    verify) find_artifact ;;
    *) WORK=$(mktemp -d "${TMPDIR:-/tmp}/xloud-deploy.XXXXXX"); trap 'rm -rf "$WORK"' EXIT
       cp "$HELPER" "$WORK/helper.py" ;;
esac
# per_host SETTING: the setting with %h replaced by the host (as given,
# with what a path cannot hold replaced by _).
per_host() {
    local h=${HOST#ssh://}
    h=${h//[^A-Za-z0-9._@-]/_}
    printf '%s' "${1//%h/$h}"
}
status=0
for HOST in "${HOSTS[@]}"; do
    BACKUP_DIR=$(per_host "$BACKUP_DIR_SETTING")
    REMOTE_WORKDIR=$(per_host "$REMOTE_WORKDIR_SETTING")
    REMOTE_DIR=$REMOTE_WORKDIR/${VERSION:-}
    case $CMD in
        deploy)
            log "host $HOST: deploying $VERSION to ${CONTAINERS[*]}${DRY_RUN:+$( [ "$DRY_RUN" = 1 ] && echo ' (dry run)')}"
            deploy_host ;;
        verify)
            log "host $HOST: verifying against $VERSION"
            verify_host || status=1 ;;
        rollback)
            log "host $HOST: rollback${DRY_RUN:+$( [ "$DRY_RUN" = 1 ] && echo ' (dry run)')}"
            rollback_host ;;
        list-backups)
            log "host $HOST: backups in $BACKUP_DIR"
            list_backups_host ;;
    esac
done
if [ "$CMD" = verify ] && [ "$status" != 0 ]; then
    log "verify: DRIFT found (redeploy with $PROG, or rebuild the image: see RSYNC_DEPLOYMENT_GUIDE.md)"
fi
log "$CMD: done in $((SECONDS - T0)) s"
exit "$status"
