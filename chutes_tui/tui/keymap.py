"""Key remapping by binding id (`[keys]` in the preferences): the conflicts a remap creates.

Textual applies a keymap silently: a key given to one binding stops working for any other
binding of the same screen (or of the app) that had it. The dashboard warns at start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from textual.binding import Binding, BindingType
from textual.dom import DOMNode


def _bindings(owner: type[DOMNode]) -> list[Binding]:
    found: list[Binding] = []
    for cls in reversed(owner.__mro__):
        declared: list[BindingType] = list(cls.__dict__.get("BINDINGS", []))
        found.extend(binding for binding in declared if isinstance(binding, Binding))
    return found


def _scopes() -> Iterator[tuple[str, list[Binding]]]:
    """Each place bindings live together: the app, and every screen with the app's keys."""
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.screens.account import AccountScreen
    from chutes_tui.tui.screens.account_keys import KeysPane
    from chutes_tui.tui.screens.account_secrets import SecretsPane
    from chutes_tui.tui.screens.build import BuildScreen
    from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
    from chutes_tui.tui.screens.deploy import DeployScreen
    from chutes_tui.tui.screens.live import LiveScreen
    from chutes_tui.tui.screens.resources import ChutesScreen, ImagesScreen
    from chutes_tui.tui.screens.shares import SharesScreen
    from chutes_tui.tui.widgets.table import VirtualTable

    app = _bindings(ChutesApp)
    yield "the app", app
    table = _bindings(VirtualTable)
    lists: tuple[type[ChutesScreen | ImagesScreen | SharesScreen], ...] = (
        ChutesScreen,
        ImagesScreen,
        SharesScreen,
    )
    for listing in lists:
        yield f"the {listing.noun}s list", [*table, *_bindings(listing), *app]
    others: tuple[tuple[type[DOMNode], str], ...] = (
        (ChuteDetailScreen, "a chute's detail"),
        (DeployScreen, "the deploy wizard"),
        (LiveScreen, "the live view"),
        (BuildScreen, "the build view"),
        (AccountScreen, "the account screen"),
    )
    for screen, name in others:
        yield name, [*_bindings(screen), *app]
    account = _bindings(AccountScreen)
    for pane, name in ((KeysPane, "the keys tab"), (SecretsPane, "the secrets tab")):
        yield name, [*_bindings(pane), *account, *app]


def _keys(text: str) -> set[str]:
    return {key.strip() for key in text.split(",") if key.strip()}


def conflicts(remap: Mapping[str, str]) -> list[str]:
    """One warning per binding that loses a key to a remap, or per unknown binding id."""
    warnings: list[str] = []
    known: set[str] = set()
    for scope, bindings in _scopes():
        known |= {binding.id for binding in bindings if binding.id}
        for binding_id, keys in remap.items():
            wanted = _keys(keys)
            for other in bindings:
                if other.id is None or other.id == binding_id or other.id in remap:
                    continue
                lost = wanted & _keys(other.key)
                if lost and any(binding.id == binding_id for binding in bindings):
                    warnings.append(
                        f"{binding_id} = {keys!r} takes {', '.join(sorted(lost))} from"
                        f" {other.id} ({other.description or other.action}) in {scope}"
                    )
    warnings.extend(
        f"{binding_id} is no binding id (the help screen, ?, lists them)"
        for binding_id in remap
        if binding_id not in known
    )
    return list(dict.fromkeys(warnings))
