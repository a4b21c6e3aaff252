"""Field validators whose bounds come from the app's configuration."""

from flask import current_app, has_app_context
from marshmallow import validate

from .config import DEFAULTS


class ConfiguredLength(validate.Length):
    """``Length`` reading ``<PREFIX>_MIN_LENGTH``/``_MAX_LENGTH`` at validation time.

    Outside an app context (e.g. while the spec is built at import) the
    defaults apply, so the documented bounds are the default policy.
    """

    def __init__(self, prefix):
        self.prefix = prefix
        super().__init__(min=self.min, max=self.max)

    def _setting(self, suffix):
        key = f"{self.prefix}_{suffix}"
        if has_app_context():
            return current_app.config.get(key, DEFAULTS[key])
        return DEFAULTS[key]

    @property
    def min(self):
        return self._setting("MIN_LENGTH")

    @min.setter
    def min(self, value):
        pass

    @property
    def max(self):
        return self._setting("MAX_LENGTH")

    @max.setter
    def max(self, value):
        pass
