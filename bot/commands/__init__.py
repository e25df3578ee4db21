"""The `/incident` sub-commands: the parser, the registry, and the sub-commands themselves."""
