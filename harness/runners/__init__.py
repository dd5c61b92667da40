"""Runners: deploy a model to a board through a transport and measure it.

    AgentRunner     (runners/agent_runner.py)  any CommandTransport: host, SSH board, QEMU Linux;
                                               runs runtimes/agent.py there (litert, tflite-runtime,
                                               edgetpu, tflm)
    FirmwareRunner  (runners/firmware.py)      any StreamTransport: the reference firmware's protocol

Runners talk to a transport interface, never to paramiko or pyserial, and know nothing of
profiles, suites, the store or reports.
"""
