"""The `/incident` sub-commands: the parser, the registry (imports no flow), the sub-commands of each domain, and
run.py, which lists them all explicitly.

May import: the domain packages (approvals, status, incidents, timeline), audit, runtime, slack, and what they
stand on. Imported by handlers only."""
