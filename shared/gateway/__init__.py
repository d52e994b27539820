"""The gateway: the one adapter over litellm (and, in openai_sdk.py, the OpenAI SDK) for every model call.

litellm fetches its model price map from GitHub when it is imported unless LITELLM_LOCAL_MODEL_COST_MAP is
set; we price calls from our own catalog, so the bundled copy is enough and a cold start must not wait on
the network. Python runs this file before any module of the package, so every `import litellm` under
shared/gateway/ comes after the setting.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
