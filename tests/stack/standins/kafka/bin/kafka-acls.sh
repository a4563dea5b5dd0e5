#!/bin/bash
# kafka-acls.sh stand-in: Tansu enforces no ACLs, so there is nothing to add (--list: nothing).
set -euo pipefail
source "$(dirname "$0")/standin-common.sh"
case " $* " in
    *" --list "*) ;;
    *) echo "stand-in: Tansu enforces no SCRAM users/ACLs" ;;
esac
