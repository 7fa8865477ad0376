"""Keep the libraries byline runs off the network: no telemetry, no model hub.

ONNX Runtime's Linux wheels (1.2x and later) carry a telemetry uploader (Microsoft's 1DS SDK): when
an OrtEnv starts it writes a device id and an event cache under
~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and, a few seconds later, looks up and posts to
mobile.events.data.microsoft.com. `onnxruntime.disable_telemetry_events()` does not stop it (the
uploader is already running and ProcessInfo is still sent); the environment variable
ORT_DISABLE_TELEMETRY=1, read when the runtime initialises, keeps the uploader from ever starting,
so it has to be set before onnxruntime is imported. The Hugging Face variables keep
transformers, sentence-transformers and huggingface_hub (the ONNX export's child process, the torch
backend) from asking the hub anything; byline's models are local folders. Values are forced, not
defaulted: byline makes no network connections, whatever the environment says.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

ENVIRONMENT = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}


def apply(environ: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Set the variables in `environ` (this process's environment by default) and return it."""
    environ.update(ENVIRONMENT)
    return environ
