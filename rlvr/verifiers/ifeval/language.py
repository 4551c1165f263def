"""A small, dependency-free language identifier for `language:response_language`.

IFEval uses `langdetect` (character n-gram profiles of 55 languages). This module needs no
data files: it decides in two steps.

1. **Script.** The letters of each writing system are counted; the script with the most
   letters wins. A script used by one language of the list decides it (Hangul: Korean,
   kana: Japanese, Thai, Hebrew, Greek, Bengali, Tamil, Telugu, Kannada, Gujarati, Gurmukhi:
   Punjabi, Malayalam; Han without kana: Chinese).
2. **Within a shared script**, letters found in only one language and profiles of very
   common function words decide: Cyrillic (Russian ы э ё / Ukrainian і ї є ґ / Bulgarian),
   Arabic script (Urdu ے ں ٹ ڈ ڑ ھ / Persian پ چ ژ گ ی ک / Arabic ة ي ك ى), Devanagari
   (Hindi / Marathi / Nepali by function words, Marathi also by ळ), Latin (English, Spanish,
   Portuguese, French, German, Italian, Dutch, Polish, Finnish, Swahili, Vietnamese, Turkish,
   Indonesian by function words, each word weighted by 1 / the number of these languages
   that use it, plus letters peculiar to one language).

Limits: it identifies only the languages in `LANGUAGES`; it wants a sentence or more — a
few words, names, code or numbers give `None` (undetermined); a text mixing languages gets
the one with the most evidence; closely related languages (Spanish/Portuguese/Italian,
Hindi/Nepali/Marathi, Indonesian/Malay) are told apart only by their function words, so a
short text may be misread. Every step is a constant number of linear passes over the text.
"""
from __future__ import annotations

import re

from rlvr.verifiers.ifeval.text import words

# ISO 639-1 codes, IFEval's 30 plus a few more that the method handles as well.
LANGUAGES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
    "fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
    "bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil",
    "te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew",
    "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
    "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
    "zh": "Chinese", "el": "Greek", "nl": "Dutch", "tr": "Turkish", "id": "Indonesian",
}

_SCRIPTS = {  # script -> character class of its letters
    "latin": "A-Za-z\u00c0-\u00ff\u0100-\u024f\u1e00-\u1eff",
    "cyrillic": "\u0400-\u04ff",
    "greek": "\u0370-\u03ff",
    "arabic": "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff",
    "hebrew": "\u0590-\u05ff",
    "devanagari": "\u0900-\u097f",
    "bengali": "\u0980-\u09ff",
    "gurmukhi": "\u0a00-\u0a7f",
    "gujarati": "\u0a80-\u0aff",
    "tamil": "\u0b80-\u0bff",
    "telugu": "\u0c00-\u0c7f",
    "kannada": "\u0c80-\u0cff",
    "malayalam": "\u0d00-\u0d7f",
    "thai": "\u0e00-\u0e7f",
    "hangul": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "kana": "\u3040-\u30ff",
    "han": "\u4e00-\u9fff\u3400-\u4dbf",
}
_SCRIPT_RE = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS.items()}
_SINGLE = {"greek": "el", "hebrew": "he", "bengali": "bn", "gurmukhi": "pa", "gujarati": "gu",
           "tamil": "ta", "telugu": "te", "kannada": "kn", "malayalam": "ml", "thai": "th",
           "hangul": "ko"}

# Function words: the most frequent short words of each language, written for this module.
_FUNCTION_WORDS = {
    "en": "the and is are was of to in that it for with as on be this have not but by from "
          "they you he she we his her at which would there their what will an or were been",
    "es": "el la los las y es de que en un una por con para no se del al como más pero su "
          "sus lo le muy está son también fue ya porque cuando todo esta este",
    "pt": "o a os as e é de que em um uma não do da dos das para com por mais como mas se "
          "ao são também foi muito está isso ele ela seu sua quando já",
    "fr": "le la les et est des une un du que qui dans pour pas sur au avec ce il elle nous "
          "vous ne se sont mais ou aux cette plus son sa être était",
    "de": "der die das und ist nicht ein eine zu den mit sich auch auf für von dem des im "
          "sie es ich wir aber oder wird sind war wie nach bei noch",
    "it": "il lo la gli le e è di che un una non per con del della sono come anche ma più "
          "nel alla questo questa ha essere era dei delle degli molto",
    "nl": "de het een en van is dat niet op te zijn voor met die in er ook maar om als aan "
          "bij nog wel dan wordt naar dit deze hij ze",
    "pl": "i w nie się na że jest to z do jak ale co tak po o od za czy tylko być są przez "
          "który która które jego jej dla już",
    "fi": "ja on ei että se oli hän mutta kun myös ovat tämä joka ole mitä niin kuin sen "
          "siitä vain jos olla ne hänen tai",
    "sw": "na ya wa kwa ni za katika la kuwa hii cha vya watu hiyo yake lakini pia sana "
          "kama kwamba ili huo wake hizo",
    "vi": "và của là có không những được một trong người các cho này với đã để khi cũng "
          "như đến từ nhiều rất",
    "tr": "ve bir bu da de için ile çok olarak daha ama gibi var ne o en kadar sonra her "
          "ben sen değil",
    "id": "dan yang di ini itu dengan untuk tidak dari dalam akan ke pada juga ada adalah "
          "saya kami mereka bisa atau",
    "hi": "है हैं के की का में और से को यह एक था थे थी पर भी नहीं कि लिए तो हो",
    "mr": "आहे आहेत आणि च्या मध्ये हे ते या की त्या होते होता नाही पण तर आम्ही",
    "ne": "छ छन् र मा यो पनि गर्न हो भएको थियो तथा गरेको हुन्छ भने उनी",
    "ru": "и в не на что с как это по но он она они из у к за от так же было был быть",
    "uk": "і в не на що з як це по але він вона вони із у до за від так було був бути",
    "bg": "и в не на че с като това по но той тя те от за се е са да във",
    "ar": "في من على إلى أن هذا هذه التي الذي عن مع كان هو هي لا ما كل بين",
    "fa": "و در به از که این را با است برای آن یک می شود ما هم تا بود",
    "ur": "ہے ہیں کے کی کا میں اور سے کو یہ وہ نہیں بھی تھا تھی کہ پر",
}
_WORD_WEIGHTS: dict[str, dict[str, float]] = {}
for _lang, _ws in _FUNCTION_WORDS.items():
    for _w in set(_ws.split()):
        _WORD_WEIGHTS.setdefault(_w, {})[_lang] = 1.0
for _w, _langs in _WORD_WEIGHTS.items():  # a word of several languages counts for less
    for _lang in _langs:
        _langs[_lang] = 1.0 / len(_langs)

# Letters that point to one language of a shared script (weight per occurrence).
_LETTERS = {
    "es": "ñ¿¡", "pt": "ãõ", "fr": "èêœù", "de": "ß", "pl": "ąęłśźżń", "tr": "ğış",
    "vi": "ơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
    "ru": "ыэё", "uk": "іїєґ", "bg": "ъ",
    "ur": "ےںٹڈڑھہ", "fa": "پچژگیک", "ar": "ةيكى", "mr": "ळ",
}
_LETTER_RE = {lang: re.compile(f"[{chars}]") for lang, chars in _LETTERS.items()}
_SCRIPT_LANGS = {
    "latin": ("en", "es", "pt", "fr", "de", "it", "nl", "pl", "fi", "sw", "vi", "tr", "id"),
    "cyrillic": ("ru", "uk", "bg"),
    "devanagari": ("hi", "mr", "ne"),
    "arabic": ("ar", "fa", "ur"),
}
_LETTER_WEIGHT = 0.5


def _count(pattern: re.Pattern, text: str) -> int:
    return len(text) - len(pattern.sub("", text))  # one C-speed pass, no match objects


def scores(text: str) -> dict[str, float]:
    """Evidence for each candidate language of the dominant script (empty: no letters)."""
    counts = {name: _count(p, text) for name, p in _SCRIPT_RE.items()}
    script = max(counts, key=counts.get)
    if counts[script] == 0:
        return {}
    if script in ("kana", "han"):
        return {"ja": 1.0} if counts["kana"] > 0 else {"zh": 1.0}
    if script in _SINGLE:
        return {_SINGLE[script]: 1.0}
    candidates = _SCRIPT_LANGS[script]
    out = dict.fromkeys(candidates, 0.0)
    for w in words(text.lower()):
        for lang, weight in _WORD_WEIGHTS.get(w, {}).items():
            if lang in out:
                out[lang] += weight
    lowered = text.lower()
    for lang in candidates:
        if lang in _LETTER_RE:
            out[lang] += _LETTER_WEIGHT * _count(_LETTER_RE[lang], lowered)
    if script == "arabic":
        if _count(_LETTER_RE["ur"], lowered) * 50 >= counts[script]:
            # Urdu also writes Persian's letters; with >= 2% Urdu-only letters, they are Urdu's
            out["ur"] += _LETTER_WEIGHT * _count(_LETTER_RE["fa"], lowered)
        out["ar"] += 0.1  # plain Arabic letters, nothing Persian or Urdu: Arabic
    if script == "cyrillic" and out["uk"] == 0 and out["bg"] == 0:
        out["ru"] += 0.1
    if script == "devanagari" and not any(out.values()):
        out["hi"] += 0.1  # the most common Devanagari language by far
    return out


def detect(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language, or None when undetermined."""
    s = scores(text)
    if not s:
        return None
    best = max(s, key=s.get)
    return best if s[best] > 0 else None
