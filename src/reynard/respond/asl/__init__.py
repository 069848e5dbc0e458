"""The Amazon States Language: definitions (parsed and validated), their data flow (JSONPath, intrinsic
functions, JSONata) and the interpreter that runs them.

The stages follow jmespath's split: `jsonpath.py` and `intrinsics/` parse their languages into small
trees and evaluate them, `definition.py` validates a state machine into a `StateMachine`, `dataflow.py`
applies a state's fields to its input, `errors` are matched by `retry.py`, and `interpreter.py` steps an
execution whose whole position is a JSON snapshot.
"""
