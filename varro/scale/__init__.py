"""Several processes acting as one app: Redis holds who has each user's live session (varro/scale/lease.py) and
tells the others when it moves (bus.py); coordinator.py puts both behind the interface LiveSessions uses."""
