"""The control API's routes, one module per resource; each module's ``router`` builds
an :class:`fastapi.APIRouter` that :func:`encounters_bridge.control.create_app`
includes. A new resource is a new module and one ``include_router`` line there."""
