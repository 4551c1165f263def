import pytest

from rlvr.verifiers.ifeval import text
from rlvr.verifiers.ifeval.language import LANGUAGES, detect

WORDS = [
    # (text, words) — words are runs of letters/digits with inner apostrophes; numbers keep
    # their decimal point or thousands separator; hyphens and underscores split.
    ("Don't stop", ["Don't", "stop"]),
    ("well-known o'clock", ["well", "known", "o'clock"]),
    ("'quoted' words", ["quoted", "words"]),
    ("pi is 3.14, or 1,000 ways", ["pi", "is", "3.14", "or", "1,000", "ways"]),
    ("snake_case", ["snake", "case"]),
    ("naïve café", ["naïve", "café"]),
    ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # vowel signs stay inside their word
    ("... !!! ---", []),
    ("", []),
]


@pytest.mark.parametrize("s, expected", WORDS)
def test_words(s, expected):
    assert text.words(s) == expected
    assert text.count_words(s) == len(expected)


SENTENCES = [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("It costs 3.50 today. Yes.", ["It costs 3.50 today.", "Yes."]),
    ("Use e.g. apples. Or not.", ["Use e.g. apples.", "Or not."]),
    ("J. K. Rowling wrote it.", ["J. K. Rowling wrote it."]),
    ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ("Wait... what?! Fine", ["Wait...", "what?!", "Fine"]),
    ("A heading\n\nBody text here. More", ["A heading", "Body text here.", "More"]),
    ("1. First item\n2. Second item", ["1. First item\n2. Second item"]),
    ("终于到了。我们走吧！", ["终于到了。", "我们走吧！"]),
    ("... !!!", []),
    ("", []),
]


@pytest.mark.parametrize("s, expected", SENTENCES)
def test_sentences(s, expected):
    assert text.sentences(s) == expected
    assert text.count_sentences(s) == len(expected)


def test_paragraphs():
    assert text.paragraphs("a\n\n \n b\nc\n\n") == ["a", "b\nc"]
    assert text.star_paragraphs("a\n***\nb") == ["a", "b"]
    assert text.star_paragraphs("***\na\n***\nb\n***") == ["a", "b"]   # outer empties ignored
    assert text.star_paragraphs("a\n***\n***\nb") is None              # an empty inner one


LANGUAGE_SAMPLES = {
    "en": "The weather today is nice and I think that we should go out for a walk in the park.",
    "es": "El tiempo hoy es agradable y creo que deberíamos salir a caminar por el parque con los niños.",
    "pt": "O tempo hoje está agradável e acho que devemos sair para caminhar no parque com as crianças.",
    "fr": "Le temps est agréable aujourd'hui et je pense que nous devrions aller nous promener dans le parc.",
    "de": "Das Wetter ist heute schön und ich denke, dass wir im Park spazieren gehen sollten.",
    "it": "Il tempo oggi è bello e penso che dovremmo uscire a fare una passeggiata nel parco con i bambini.",
    "pl": "Pogoda jest dzisiaj ładna i myślę, że powinniśmy pójść na spacer do parku z dziećmi.",
    "fi": "Sää on tänään kaunis ja mielestäni meidän pitäisi mennä kävelylle puistoon, mutta se on kaukana.",
    "sw": "Hali ya hewa leo ni nzuri na nadhani tunapaswa kwenda kutembea katika bustani pamoja na watoto.",
    "vi": "Thời tiết hôm nay đẹp và tôi nghĩ rằng chúng ta nên đi dạo trong công viên với những đứa trẻ.",
    "ru": "Погода сегодня хорошая, и я думаю, что нам стоит пойти погулять в парк с детьми.",
    "uk": "Погода сьогодні гарна, і я думаю, що нам варто піти погуляти в парк з дітьми.",
    "bg": "Времето днес е хубаво и мисля, че трябва да отидем на разходка в парка с децата.",
    "ar": "الطقس اليوم جميل وأعتقد أنه يجب علينا الذهاب في نزهة في الحديقة مع الأطفال.",
    "fa": "هوا امروز خوب است و فکر می کنم باید با بچه ها به پارک برویم.",
    "ur": "آج موسم اچھا ہے اور میرے خیال میں ہمیں بچوں کے ساتھ پارک میں سیر کے لیے جانا چاہیے۔",
    "hi": "आज मौसम अच्छा है और मुझे लगता है कि हमें बच्चों के साथ पार्क में टहलने जाना चाहिए।",
    "mr": "आज हवामान छान आहे आणि मला वाटते की आपण मुलांसोबत उद्यानात फिरायला जावे.",
    "ne": "आज मौसम राम्रो छ र मलाई लाग्छ हामी बच्चाहरूसँग पार्कमा घुम्न जानुपर्छ।",
    "ja": "今日は天気が良いので、子供たちと公園に散歩に行くべきだと思います。",
    "zh": "今天天气很好，我认为我们应该带孩子们去公园散步。",
    "ko": "오늘 날씨가 좋아서 아이들과 함께 공원에 산책하러 가야 할 것 같아요.",
    "th": "วันนี้อากาศดีและฉันคิดว่าเราควรไปเดินเล่นในสวนสาธารณะกับเด็กๆ",
    "he": "מזג האוויר היום נעים ואני חושב שכדאי לנו ללכת לטייל בפארק עם הילדים.",
    "bn": "আজ আবহাওয়া ভালো এবং আমি মনে করি আমাদের পার্কে হাঁটতে যাওয়া উচিত।",
    "ta": "இன்று வானிலை நன்றாக உள்ளது, நாம் பூங்காவிற்கு நடந்து செல்ல வேண்டும்.",
}


@pytest.mark.parametrize("code, sample", LANGUAGE_SAMPLES.items())
def test_language_detection(code, sample):
    assert code in LANGUAGES
    assert detect(sample) == code


@pytest.mark.parametrize("s", ["", "12345 !!!", "Xyzzy Plugh"])
def test_language_undetermined_without_evidence(s):
    assert detect(s) is None


def test_language_of_mixed_text_is_the_majority():
    english = LANGUAGE_SAMPLES["en"]
    spanish = LANGUAGE_SAMPLES["es"]
    assert detect(english * 3 + spanish) == "en"
    assert detect(english + spanish * 3) == "es"
