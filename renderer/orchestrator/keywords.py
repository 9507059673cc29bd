"""What a reply means: an opt-out, an opt-in, a request for help, or none of these.

A revocation of consent made "by any reasonable means" must be honoured (the FCC's 2024 order,
in force since April 2025), in the words a person actually types: "Stop.", "opt out",
"unsubscribe me", "please stop texting me", "NO MÁS". A reply is read ignoring case,
accents, punctuation, emoji and spacing, and the rules err on the side of honouring:

1. It is an **opt-out** when it contains, as whole words, one of ``OPT_OUT_ANYWHERE`` (in any
   sentence: "stop sending so many" is an opt-out), or when it is nothing but one of
   ``OPT_OUT_ALONE`` (words that also mean other things, like "end" or the Spanish "para"),
   give or take ``FILLER`` words ("end please"), or when one of those words comes with a word
   for the messages themselves ("end these texts").
2. Else it is an **opt-in** when it is nothing but one of ``OPT_IN`` (and filler): a
   re-subscription must be unmistakable, so "yes" inside a sentence is not one.
3. Else it is a **help** request when it is nothing but one of ``HELP`` (and filler).

docs/campaigns.md lists the words; tests/test_keywords.py reads a table of replies.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["stop", "start", "help"]

# Phrases that revoke consent wherever they appear: (words, language of the answer)
OPT_OUT_ANYWHERE = {
    # English: the FCC's examples, the carriers' standard keywords, and common phrasings
    "stop": "en",
    "stopall": "en",
    "stop all": "en",
    "unsubscribe": "en",
    "unsub": "en",
    "optout": "en",
    "opt out": "en",
    "opt me out": "en",
    "revoke": "en",
    "cancel": "en",
    "quit": "en",
    "remove me": "en",
    "take me off": "en",
    "no more": "en",
    "leave me alone": "en",
    "dont text": "en",
    "dont message": "en",
    "dont contact": "en",
    "dont send": "en",
    "do not text": "en",
    "do not message": "en",
    "do not contact": "en",
    "do not send": "en",
    "not interested": "en",
    "wrong number": "en",
    # Spanish
    "parar": "es",
    "pare": "es",
    "cancelar": "es",
    "no mas": "es",
    "dar de baja": "es",
    "darme de baja": "es",
    "de baja": "es",
    "basta": "es",
    "detener": "es",
    "no me escriban": "es",
    "no me envien": "es",
    "numero equivocado": "es",
    # French
    "arreter": "fr",
    "desabonner": "fr",
    "desinscrire": "fr",
}
# Words that opt out when they are the whole reply (or come with a word for the messages):
# alone, they are unmistakable; in a sentence they often mean something else.
OPT_OUT_ALONE = {
    "end": "en",
    "halt": "en",
    "remove": "en",
    "delete": "en",
    "para": "es",
    "alto": "es",
    "baja": "es",
    "fin": "es",
    "salir": "es",
    "arret": "fr",
}
MESSAGES = {
    "text",
    "texts",
    "texting",
    "message",
    "messages",
    "msg",
    "msgs",
    "sms",
    "mensaje",
    "mensajes",
    "textos",
}
OPT_IN = {"start", "unstop", "yes", "subscribe"}
HELP = {"help", "info", "information", "ayuda", "aide"}
# Words that do not change what a short reply means: "STOP please", "unsubscribe me now".
FILLER = {
    "please",
    "pls",
    "plz",
    "now",
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "me",
    "asap",
    "ok",
    "okay",
    "just",
    "all",
    "it",
    "this",
    "these",
    "the",
    "por",
    "favor",
    "gracias",
    "ya",
    "los",
    "las",
}


@dataclass(frozen=True)
class Keyword:
    kind: Kind
    language: str = "en"  # the language to answer in


def classify(body: str) -> Keyword | None:
    """What a reply means (see the module's rules), or None for an ordinary message."""
    words = normalize(body)
    if not words:
        return None
    text = f" {' '.join(words)} "
    for phrase, language in OPT_OUT_ANYWHERE.items():
        if f" {phrase} " in text:
            return Keyword("stop", language)
    meaning = [word for word in words if word not in FILLER]
    alone = [word for word in meaning if word in OPT_OUT_ALONE]
    if alone and (len(meaning) == 1 or any(word in MESSAGES for word in meaning)):
        return Keyword("stop", OPT_OUT_ALONE[alone[0]])
    if len(meaning) == 1 and meaning[0] in OPT_IN:
        return Keyword("start")
    if len(meaning) == 1 and meaning[0] in HELP:
        return Keyword("help")
    return None


def normalize(body: str) -> list[str]:
    """The reply's words: compatibility forms folded (full-width letters), accents and case
    dropped, apostrophes joined ("don't" -> "dont"), everything else a separator."""
    text = unicodedata.normalize("NFKD", body)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"['\u2019\u02bc`]", "", text)
    return re.findall(r"[a-z0-9]+", text)
