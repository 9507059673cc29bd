"""The CSS cascade of a filled SVG, written into each element's ``style`` attribute.

Design tools style with CSS: Illustrator puts ``.st3{font-family:'Inter-Bold';font-size:72px}``
in a ``<style>`` element and ``class="st3"`` on the text, Inkscape writes ``style=""``
everywhere, Figma uses presentation attributes. ``inline`` resolves the ``<style>`` rules
(class, id, type, attribute and descendant selectors, matched by cssselect2 on the tree,
parsed by tinycss2: the libraries CairoSVG itself styles with) into every element they apply
to, in the order CSS and CairoSVG apply them: presentation attributes, then the rules (by
specificity, then order), then ``style=""``, then ``!important`` rules, then ``!important``
in ``style=""``. After it, an element says everything it is styled with in its own
attributes, so fitting, lint, the text engine and a run drawn alone (``layers``) all read
one answer, and CairoSVG draws the same picture as before (the rules it would apply are
written after nothing that could override them).
"""

import xml.etree.ElementTree as ET
from functools import lru_cache

import cssselect2
import tinycss2

SVG = "http://www.w3.org/2000/svg"
STYLE, TEXT = f"{{{SVG}}}style", f"{{{SVG}}}text"
INLINED = "data-inlined"  # on a <style> whose rules are written: into "texts" or "all"
# Selectors whose match depends on an element's siblings: drawing a top-level element in a run
# of its own (layers) would change what they match.
STRUCTURAL = ("first-child", "last-child", "only-child", "nth-child", "nth-last-child",
              "first-of-type", "last-of-type", "only-of-type", "nth-of-type",
              "nth-last-of-type", "empty", "has")  # fmt: skip

Declaration = tuple[str, str, bool]  # name (lower case), value, !important


def declarations(text: str) -> list[Declaration]:
    """The declarations of a ``style`` attribute or a rule's body, in order; vendor ones
    (``-inkscape-font-specification``) and malformed ones left out, as CSS does."""
    found = []
    for item in tinycss2.parse_declaration_list(text, skip_comments=True, skip_whitespace=True):
        if item.type == "declaration" and not item.name.startswith("-"):
            found.append((item.lower_name, tinycss2.serialize(item.value).strip(), item.important))
    return found


def stylesheet(root: ET.Element, unless: str = "") -> str:
    """The CSS of ``root``'s ``<style>`` elements (type text/css), but for those marked as
    inlined ``unless`` (``"all"``: written into every element)."""
    return "\n".join(
        element.text or ""
        for element in root.iter(STYLE)
        if element.get("type", "text/css") == "text/css"
        and not (unless and element.get(INLINED) == unless)
    )


def inline(root: ET.Element, texts_only: bool = False) -> None:
    """Write the ``<style>`` rules of ``root`` into the ``style`` attribute of every element
    they apply to (in place; once: the ``<style>`` elements are marked as done). With
    ``texts_only``, only into the texts, what is inside them and what they inherit from: all
    the text engine reads, and matching is most of the cost on a large drawing (the rest
    CairoSVG styles itself from the same rules)."""
    css = stylesheet(root, "all")
    if not css.strip():
        return
    done = {e.get(INLINED) for e in root.iter(STYLE)}
    if texts_only and "texts" in done:
        return
    normal, important = _matchers(css)
    texts = _texts_and_kin(root) if texts_only or "texts" in done else None
    for wrapper in cssselect2.ElementWrapper.from_xml_root(root).iter_subtree():
        element = wrapper.etree_element
        if texts is not None and (element in texts) != texts_only:
            continue  # not wanted now, or written already
        ruled = [d for *_, d in normal.match(wrapper)]
        strong = [d for *_, d in important.match(wrapper)]
        if ruled or strong:
            own = declarations(element.get("style", ""))
            ordered = [
                *(d for block in ruled for d in block),
                *(d for d in own if not d[2]),
                *(d for block in strong for d in block),
                *(d for d in own if d[2]),
            ]
            element.set("style", ";".join(f"{n}:{v}{' !important' * i}" for n, v, i in ordered))
    for element in root.iter(STYLE):
        element.set(INLINED, "texts" if texts_only else "all")


def _texts_and_kin(root: ET.Element) -> set[ET.Element]:
    """The ``<text>`` elements, everything inside them, and their ancestors."""
    parents = {child: parent for parent in root.iter() for child in parent}
    found: set[ET.Element] = set()
    for text in root.iter(TEXT):
        found.update(text.iter())
        node = text
        while node in parents and parents[node] not in found:
            node = parents[node]
            found.add(node)
    return found


def structural(css: str) -> str | None:
    """The first selector of ``css`` whose match depends on sibling elements (``+``, ``~``,
    ``:nth-child`` ...), or None."""
    for rule in _rules(css):
        tokens = list(_flat(rule.prelude))
        for index, token in enumerate(tokens):
            sibling = token.type == "literal" and token.value in ("+", "~")
            pseudo = (
                token.type == "literal"
                and token.value == ":"
                and index + 1 < len(tokens)
                and _name(tokens[index + 1]) in STRUCTURAL
            )
            if sibling or pseudo:
                return tinycss2.serialize(rule.prelude).replace("/**/", "").strip()
    return None


def _flat(tokens):
    for token in tokens:
        yield token
        if token.type == "function":  # :nth-child(2n), :has(...)
            yield from _flat(token.arguments)


def _name(token) -> str | None:
    return getattr(token, "lower_name", None) or getattr(token, "lower_value", None)


def _rules(css: str) -> list:
    """The qualified rules of ``css`` (at-rules such as ``@media`` and ``@font-face`` do not
    style SVG elements here, nor in CairoSVG)."""
    parsed = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return [rule for rule in parsed if rule.type == "qualified-rule"]


@lru_cache(maxsize=64)
def _matchers(css: str) -> tuple[cssselect2.Matcher, cssselect2.Matcher]:
    """Matchers for the normal and the ``!important`` declarations of ``css`` (a template's
    stylesheet does not change between renders: built once). A selector cssselect2 cannot
    read is left out, as browsers leave out the rule."""
    normal, important = cssselect2.Matcher(), cssselect2.Matcher()
    for rule in _rules(css):
        body = declarations(tinycss2.serialize(rule.content))
        try:
            selectors = cssselect2.compile_selector_list(rule.prelude)
        except cssselect2.SelectorError:
            continue
        for selector in selectors:
            if selector.pseudo_element is not None or selector.never_matches:
                continue
            if [d for d in body if not d[2]]:
                normal.add_selector(selector, [d for d in body if not d[2]])
            if [d for d in body if d[2]]:
                important.add_selector(selector, [d for d in body if d[2]])
    return normal, important
