"""One router per resource of the results API; :func:`deeplens.api.app.create_app` includes them."""
