"""The results service: REST + OpenAPI over :mod:`deeplens.results` and :mod:`deeplens.search`."""

from deeplens.api.app import create_app

__all__ = ["create_app"]
