"""Loads the compiled core `tl_fast._native`, or reports (once) that the pure-Python twins are used instead.

Set TL_FAST_NO_NATIVE=1 at install time to skip the build, or at run time to force the Python twins.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType

_EXPECTED_ABI = 5
_native: ModuleType | None = None
_reason: str | None = None


# Left by setup.py in a copy installed with TL_FAST_NO_NATIVE=1, which has no extension by choice.
_SKIPPED_MARKER = Path(__file__).with_name("_native_skipped")


def _load() -> None:
    global _native, _reason
    if os.environ.get("TL_FAST_NO_NATIVE", "0") not in ("", "0"):
        _reason = f"TL_FAST_NO_NATIVE={os.environ['TL_FAST_NO_NATIVE']} is set"
        return
    try:
        from tl_fast import _native as module
    except ImportError as exc:
        if _SKIPPED_MARKER.exists():
            _reason = "tl_fast was installed with TL_FAST_NO_NATIVE=1 (no C++ extension built)"
        else:
            _reason = f"the extension could not be imported ({exc}); reinstall with a C++17 compiler"
        return
    if getattr(module, "ABI_VERSION", None) != _EXPECTED_ABI:
        _reason = (
            f"stale build: ABI {getattr(module, 'ABI_VERSION', None)}, expected {_EXPECTED_ABI}; reinstall"
        )
        return
    _native = module


_load()
_warned = False


def native_available() -> bool:
    """True when the compiled C++ core is loaded; False means the pure-Python twins serve every call."""
    return _native is not None


def native_module() -> ModuleType | None:
    """The loaded `tl_fast._native`, or None after warning once why the Python fallback is used."""
    global _warned
    if _native is None and not _warned:
        _warned = True
        chosen = "TL_FAST_NO_NATIVE" in (_reason or "")
        what = "as chosen" if chosen else "because the native core is unavailable"
        warnings.warn(f"tl_fast: using the pure-Python parser/categorizer {what}: {_reason}", stacklevel=3)
    return _native


def native_unavailable_reason() -> str | None:
    return _reason
