"""Response: playbooks in the Amazon States Language run by Reynard itself (interpreter, executions,
task resources: AWS SDK calls and built-in containment actions), started by EventBridge-style triggers.
See docs/respond.md."""
