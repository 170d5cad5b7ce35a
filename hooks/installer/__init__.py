"""The node installer: `kata-deploy install|cleanup|status|run` on a host root.

Every output is derived from pristine inputs (the artifacts payload, the host's own
configuration files) plus the settings, on every run; nothing is edited in place, so
running twice is the same as running once (the lesson of upstream issue #11187).
"""
