"""The memory benchmark's data: a labelled long conversation and a large random item set.

`conversation(seed)`: one user's multi-session conversation (sessions of small talk) in which
facts about the user are stated once each, in sentences whose words are inflected differently
from the question that later asks for them ("I've been running marathons" / "Do I run a
marathon?"), and many other turns share the facts' topic words. Each question is labelled with
the turn that answers it. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# (statement, question): the question names one of the statement's slot values and asks with
# other words and other inflections ("running marathons" / "run the marathon").
FACTS = [
    ("I've been running marathons since {year}, my best time was in {city}.",
     "When did she begin to run the marathon she ran best in {city}?"),
    ("My daughter {name} started taking violin lessons on Saturdays.", "What instrument is {name} learning to play?"),
    ("I'm allergic to {food}, so I always check the ingredients.", "Does she have an allergy to {food}?"),
    ("We adopted a rescue {animal} called {name} last {month}.", "Which {animal} did they rescue and adopt?"),
    ("I work as a {job} at a hospital in {city}.", "Which hospital in {city} employs her?"),
    ("My favourite {genre} books are the ones by {author}.", "Who is her favourite author of {genre}?"),
    ("I'm learning {language} because we're moving to {city} next year.", "Why is she studying {language}?"),
    ("My brother {name} is getting married in {month}.", "When will {name} marry?"),
    ("I drive an old {car} that keeps breaking down.", "Does her {car} still break down?"),
    ("I usually go swimming at the {place} before work.", "When does she swim at the {place}?"),
    ("I'm saving up to buy a flat in {city} by {year}.", "What is she saving for in {city}?"),
    ("My grandmother taught me to bake {food} bread.", "Who teaches her to bake {food} bread?"),
    ("I volunteered at the {place} every Sunday last year.", "Did she volunteer at the {place}?"),
    ("I broke my {bone} skiing in {city}.", "How did she break her {bone}?"),
    ("My partner {name} is a {job} who works night shifts.", "What does {name} work as?"),
    ("We're planning a trip to {city} for our anniversary in {month}.", "When are they travelling to {city}?"),
    ("I collect vintage {thing} from flea markets.", "Where does she find her {thing} collection?"),
    ("I've been vegetarian since I read a book by {author}.", "Which {author} book made her a vegetarian?"),
    ("My son {name} plays goalkeeper in the {place} football team.", "Which position does {name} play in football?"),
    ("I'm afraid of {animal}s since one bit me as a child.", "Why is she frightened of {animal}s?"),
]

SLOTS = {
    "year": [str(y) for y in range(2008, 2024)],
    "city": ["Lyon", "Porto", "Krakow", "Tampere", "Ghent", "Bilbao", "Trieste", "Aarhus", "Graz", "Brno", "Cork",
             "Leipzig", "Turin", "Utrecht", "Seville"],
    "name": ["Emma", "Louis", "Nora", "Hugo", "Lina", "Oscar", "Maya", "Felix", "Zoe", "Theo", "Iris", "Jonas"],
    "food": ["peanut", "sesame", "shellfish", "walnut", "gluten", "rye", "spelt", "almond"],
    "animal": ["dog", "cat", "rabbit", "parrot", "ferret", "horse", "goose", "snake"],
    "month": ["January", "March", "April", "June", "August", "October", "November", "December"],
    "job": ["nurse", "radiologist", "pharmacist", "surgeon", "midwife", "paramedic", "dentist", "physiotherapist"],
    "genre": ["mystery", "fantasy", "history", "poetry", "science fiction", "crime"],
    "author": ["Tolkien", "Atwood", "Murakami", "Christie", "Le Guin", "Ishiguro", "Pratchett", "Ferrante"],
    "language": ["Portuguese", "Polish", "Finnish", "Dutch", "Basque", "Italian", "Danish", "Czech"],
    "car": ["Volvo", "Saab", "Fiat", "Skoda", "Renault", "Peugeot", "Lancia"],
    "place": ["community pool", "lake", "shelter", "library", "youth club", "food bank", "lido", "harbour"],
    "bone": ["wrist", "ankle", "collarbone", "shin", "elbow"],
    "thing": ["cameras", "postcards", "typewriters", "maps", "radios", "teapots"],
}

# Small talk: the same topics and words as the facts, none of them answering a question.
CHATTER = [
    "Can you remind me what the weather will be like in {city} this weekend?",
    "I need a recipe with {food} for dinner tonight, something quick.",
    "What time does the {place} open on public holidays?",
    "Tell me a joke about a {animal}.",
    "How long does it take to drive from {city} to the coast?",
    "Do you know any good {genre} films from {year}?",
    "My friend {name} recommended a {genre} podcast, have you heard of it?",
    "I watched a documentary about {job}s, it was fascinating.",
    "Could you help me write a birthday card for {name}?",
    "Is {language} hard to learn for English speakers?",
    "What's the best way to clean old {thing}?",
    "I saw a {animal} in the park today, it was adorable.",
    "How many calories are in a slice of {food} cake?",
    "Remind me to call the {place} tomorrow morning.",
    "What are the opening hours of the museums in {city}?",
    "Translate 'good morning' into {language} please.",
    "I'm tired today, the meeting ran late again.",
    "Can you summarise the news about {city} for me?",
    "What's a good gift for a {job} who is retiring?",
    "My {car} needs new tyres, where should I go?",
    "I read an interview with {author} yesterday.",
    "Let's plan my week: gym on Monday, {place} on Wednesday.",
    "What's the difference between a {animal} and a {animal}?",
    "Suggest a name for a {animal} puppy.",
    "I ran to the station this morning and still missed the train.",
    "The kids are playing in the garden while I cook.",
    "Find me a {genre} novel under 300 pages.",
    "My back hurts after the long drive from {city}.",
]


@dataclass(frozen=True)
class Turn:
    session: int
    index: int
    text: str


@dataclass(frozen=True)
class Question:
    text: str
    answers: frozenset[int]  # the indexes of the turns that answer it (the same fact said again)


_SLOT = re.compile(r"{(\w+)}")


def _fill(template: str, rng: random.Random, chosen: dict | None = None) -> str:
    """`template` with each slot filled: from `chosen` when it has the slot, else at random (and
    recorded in `chosen`)."""
    chosen = {} if chosen is None else chosen

    def value(match):
        return chosen.setdefault(match.group(1), rng.choice(SLOTS[match.group(1)]))

    return _SLOT.sub(value, template)


def conversation(seed: int = 7, sessions: int = 40, turns_per_session: int = 75,
                 facts_per_session: int = 5) -> tuple[list[Turn], list[Question]]:
    """sessions × turns_per_session turns, `facts_per_session` of them stating a fact; one
    question per distinct fact."""
    rng = random.Random(seed)
    turns: list[Turn] = []
    answers: dict[str, set[int]] = {}
    for session in range(sessions):
        fact_turns = set(rng.sample(range(turns_per_session), facts_per_session))
        for position in range(turns_per_session):
            if position in fact_turns:
                statement, question = rng.choice(FACTS)
                chosen: dict = {}
                text = _fill(statement, rng, chosen)
                answers.setdefault(_fill(question, rng, chosen), set()).add(len(turns))
            else:
                text = _fill(rng.choice(CHATTER), rng)
            turns.append(Turn(session, len(turns), f"(session {session + 1}) {text}"))
    return turns, [Question(text, frozenset(found)) for text, found in answers.items()]


WORDS = sorted({word.strip(".,?!'").lower() for template in FACTS + [(c, "") for c in CHATTER]
                for text in template for word in text.replace("{", " ").replace("}", " ").split() if word.isalpha()}
               | {value.lower() for values in SLOTS.values() for value in values for value in value.split()})


def random_items(count: int, seed: int = 11, words_per_item: tuple[int, int] = (8, 24)) -> list[str]:
    """`count` distinct texts of words drawn with a Zipf-like skew (a few words are everywhere)."""
    rng = random.Random(seed)
    vocabulary = rng.sample(WORDS, len(WORDS))  # which words are frequent: by chance, not alphabet
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    return [f"{n}: " + " ".join(rng.choices(vocabulary, weights, k=rng.randint(*words_per_item)))
            for n in range(count)]


def random_queries(count: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, rng.randint(2, 4))) for _ in range(count)]
