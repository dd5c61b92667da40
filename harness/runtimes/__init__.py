"""The on-board half: the measurement agent (agent.py, measurement only), its library
(agentlib.py: statistics and input quantization, shared with the controller) and one adapter
file per runtime (adapters/, with the runtime catalogue). A runner stages the agent, the
library and one adapter on a board; run there, they import nothing of the harness package."""
