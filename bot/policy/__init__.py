"""Policy: the models of policies.yml and the decision for one requested action. Pure: the caller gathers the facts.

May import: store, clock, errors. Imported by config and the approvals package."""
