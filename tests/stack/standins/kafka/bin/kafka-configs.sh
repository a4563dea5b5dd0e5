#!/bin/bash
# kafka-configs.sh stand-in: Tansu keeps no SCRAM users, so there is nothing to alter (--list: nothing).
set -euo pipefail
source "$(dirname "$0")/standin-common.sh"
case " $* " in
    *" --list "* | *" --describe "*) ;;
    *) echo "stand-in: Tansu enforces no SCRAM users/ACLs" ;;
esac
