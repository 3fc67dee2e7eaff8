"""Programmatic multi-step arithmetic word problems with worked solutions (GSM8K style).

Every problem is generated from its own seed (`problem(seed_string)`), so a split is a seed range:
train problems use seeds "train:<i>", held-out problems "heldout:<i>" (disjoint by construction;
make_data.py also removes any training problem whose question text equals a held-out question).

Design (see docs/reference-model.md, "Data"):
- 10 families (inventory chains, shopping with change, wages, comparisons between people, speed and
  distance, ages, rows and grids, savings, packing into boxes, pooling and sharing), 2 to 4 steps.
- Each solution step is one short, locally computable operation written out as `a op b = c`
  (operands are numbers of the question or results of earlier steps), one step per line; every
  multiplication and division has a one-digit operand (the divisor, or one factor).
- Variety: several phrasings of every fact, question and solution step, random names, items,
  units, money formats, operator symbols (`*`, `x`, `×`; `/`, `÷`), optional connectors ("First,"
  "Then"), optional intro line, solution order of independent sub-results, four final-answer line
  formats (`#### N`, `The answer is N.`, ...), 0-2 distractor facts with irrelevant numbers.

`verify(p)` recomputes every equation of the solution, checks that each operand is a number of
the question or an earlier result, and that the final-answer line gives the answer.
"""
import random
import re
from typing import Dict, List, Optional, Tuple

# --------------------------------------------------------------------------------------------
# Vocabulary

NAMES_F = ["Maria", "Aisha", "Emma", "Sofia", "Mei", "Olivia", "Priya", "Hannah", "Lucia", "Nora",
           "Fatima", "Chloe", "Ines", "Yuki", "Zara", "Ava", "Lena", "Rosa", "Amara", "Julia",
           "Keiko", "Tara", "Elena", "Grace", "Mila", "Sara", "Leila", "Ruth", "Ana", "Ivy"]
NAMES_M = ["James", "Omar", "Liam", "Carlos", "Kenji", "Noah", "Ravi", "David", "Mateo", "Ethan",
           "Ali", "Lucas", "Tom", "Hugo", "Arjun", "Ben", "Jonas", "Pablo", "Samir", "Leo",
           "Felix", "Marco", "Ivan", "Daniel", "Kofi", "Oscar", "Hiro", "Adam", "Max", "Raj"]
ITEMS = [("apple", "apples"), ("marble", "marbles"), ("sticker", "stickers"), ("book", "books"),
         ("pencil", "pencils"), ("cookie", "cookies"), ("shell", "shells"), ("card", "cards"),
         ("stamp", "stamps"), ("coin", "coins"), ("egg", "eggs"), ("flower", "flowers"),
         ("toy car", "toy cars"), ("balloon", "balloons"), ("bead", "beads"), ("candle", "candles"),
         ("cupcake", "cupcakes"), ("orange", "oranges"), ("lemon", "lemons"), ("rock", "rocks"),
         ("button", "buttons"), ("ribbon", "ribbons"), ("puzzle", "puzzles"), ("comic", "comics"),
         ("feather", "feathers"), ("postcard", "postcards"), ("crayon", "crayons"),
         ("brick", "bricks"), ("pear", "pears"), ("plum", "plums"), ("muffin", "muffins"),
         ("sock", "socks"), ("photo", "photos"), ("magnet", "magnets"), ("leaf", "leaves")]
CONTAINERS = [("box", "boxes"), ("bag", "bags"), ("pack", "packs"), ("jar", "jars"),
              ("basket", "baskets"), ("crate", "crates"), ("tin", "tins")]
SHOP = [("notebook", "notebooks"), ("pen", "pens"), ("shirt", "shirts"), ("ticket", "tickets"),
        ("mug", "mugs"), ("plant", "plants"), ("lamp", "lamps"), ("sandwich", "sandwiches"),
        ("pizza", "pizzas"), ("toy", "toys"), ("board game", "board games"), ("hat", "hats"),
        ("scarf", "scarves"), ("bottle of juice", "bottles of juice"), ("towel", "towels"),
        ("loaf of bread", "loaves of bread"), ("pair of shoes", "pairs of shoes"),
        ("chair", "chairs"), ("pillow", "pillows"), ("backpack", "backpacks"), ("kite", "kites")]
JOBS = ["the bakery", "a cafe", "the library", "a garden center", "the bike shop", "a pet shop",
        "the farm", "a bookstore", "the museum", "a restaurant"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RELATIVES = ["brother", "sister", "cousin", "aunt", "uncle", "neighbor", "grandmother", "friend"]
PLACES = ["school", "park", "library", "market", "station", "beach", "museum", "lake"]
VEHICLES = [("car", 40, 95), ("bus", 30, 70), ("train", 60, 120), ("truck", 40, 80),
            ("cyclist", 10, 25), ("boat", 15, 40)]
GRIDS = [("rows of chairs", "chairs", "row", "empty"), ("rows of trees", "trees", "row", "unpicked"),
         ("shelves", "books", "shelf", "left"), ("rows of seats", "seats", "row", "free"),
         ("trays", "cookies", "tray", "left"), ("rows of tulips", "tulips", "row", "left")]
FINAL_LINES = ["#### {a}", "The answer is {a}.", "So the answer is {a}.", "The final answer is {a}."]
FAMILIES = ["inventory", "shopping", "wages", "compare", "distance", "ages", "grid", "savings",
            "boxes", "pool"]
FAMILY_WEIGHTS = [3, 2, 1.5, 1.5, 1, 1, 1, 1, 1, 1]

ANSWER_RE = re.compile(r"(?:####|answer is|Answer:)\s*\$?(-?\d+)")
EQ_RE = re.compile(r"(\d+) ([-+*x×/÷]) (\d+) = (\d+)")


def extract_answer(text: str) -> Optional[int]:
    """The last final-answer mark (`#### N`, `answer is N`) in `text`, or None."""
    found = ANSWER_RE.findall(text)
    return int(found[-1]) if found else None


class Person:
    def __init__(self, name: str, female: bool):
        self.name = name
        self.s, self.o, self.p = ("she", "her", "her") if female else ("he", "him", "his")

    @property
    def S(self):
        return self.s.capitalize()


# First words of a step that may follow a connector ("First, the total is ...") once lowercased.
_LOWER_STARTS = {"She", "He", "The", "After", "Adding", "Now", "In", "Each", "That", "There",
                 "Together", "With", "Taking", "Since", "For", "Altogether", "On", "Sharing"}


class Builder:
    """Collects the facts, the question and the worked steps of one problem."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.facts: List[str] = []
        self.question = ""
        self.steps: List[str] = []
        self.ops: List[Tuple[int, str, int, int]] = []
        self.mul = rng.choices(["*", "×", "x"], [5, 3, 2])[0]
        self.div = rng.choices(["/", "÷"], [7, 3])[0]
        self.dollar_sign = rng.random() < 0.6

    def pick(self, options):
        return self.rng.choice(options)

    def money(self, n: int) -> str:
        return f"${n}" if self.dollar_sign else f"{n} dollars"

    def eq(self, a: int, op: str, b: int) -> Tuple[int, str]:
        if op == "+":
            c = a + b
        elif op == "-":
            c = a - b
        elif op == "*":
            c = a * b
        else:
            if b == 0 or a % b:
                raise ValueError(f"inexact division {a} / {b}")
            c = a // b
        sym = {"+": "+", "-": "-", "*": self.mul, "/": self.div}[op]
        self.ops.append((a, op, b, c))
        return c, f"{a} {sym} {b} = {c}"

    def step(self, text: str):
        self.steps.append(text)


def _person(rng: random.Random, exclude=()) -> Person:
    while True:
        female = rng.random() < 0.5
        name = rng.choice(NAMES_F if female else NAMES_M)
        if name not in exclude:
            return Person(name, female)


def _num(rng: random.Random, lo: int, hi: int, big: float = 0.0, big_hi: int = 0) -> int:
    if big and rng.random() < big:
        return rng.randint(hi + 1, big_hi)
    return rng.randint(lo, hi)


# --------------------------------------------------------------------------------------------
# Families. Each fills b.facts, b.question and b.steps and returns (answer, people, avoid_items).

def fam_inventory(b: Builder):
    rng = b.rng
    x = _person(rng)
    it, its = rng.choice(ITEMS)
    cont, conts = rng.choice(CONTAINERS)
    friend = _person(rng, (x.name,))
    a = _num(rng, 12, 99, 0.4, 400)
    b.facts.append(b.pick([f"{x.name} has {a} {its}.", f"{x.name} starts the day with {a} {its}.",
                           f"{x.name} owns {a} {its}.", f"{x.name} collected {a} {its} last year.",
                           f"There are {a} {its} in {x.name}'s {cont}."]))
    intro = b.pick([f"{x.name} starts with {a} {its}.", f"At first there are {a} {its}.", None, None])
    if intro:
        b.step(intro)
    n_ops = rng.choices([2, 3, 4], [3, 4, 3])[0]
    done = 0
    cur = a
    final_share = rng.random() < 0.2
    while done < n_ops - (1 if final_share else 0):
        kind = rng.choices(["add", "sub", "mul", "packs"], [4, 4, 1.2, 1.5])[0]
        if kind == "packs" and done + 2 > n_ops - (1 if final_share else 0):
            kind = "add"
        if kind == "mul" and cur * 5 > 2000:
            kind = "sub"
        if kind == "sub" and cur < 6:
            kind = "add"
        if kind == "add":
            n = _num(rng, 2, 60, 0.2, 250)
            b.facts.append(b.pick([f"{x.S} buys {n} more {its}.", f"Then {x.s} finds {n} more {its}.",
                                   f"{friend.name} gives {x.o} {n} {its}.",
                                   f"On {rng.choice(DAYS)}, {x.s} gets {n} more {its}.",
                                   f"{x.S} picks up another {n} {its}.",
                                   f"Later, {x.s} receives {n} {its} as a gift."]))
            c, e = b.eq(cur, "+", n)
            b.step(b.pick([f"{x.S} gets {n} more, so {x.s} has {e} {its}.", f"{e} {its} after that.",
                           f"Adding the {n} new {its}: {e}.", f"Now {x.s} has {e} {its}.",
                           f"With {n} more, the total is {e}."]))
            done += 1
        elif kind == "sub":
            n = rng.randint(2, max(2, cur - 2))
            b.facts.append(b.pick([f"{x.S} gives {n} {its} to {friend.name}.",
                                   f"{x.S} sells {n} of {x.p} {its}.", f"Then {x.s} loses {n} {its}.",
                                   f"{x.S} uses {n} of the {its} for a school project.",
                                   f"{x.S} gives away {n} {its}."]))
            c, e = b.eq(cur, "-", n)
            b.step(b.pick([f"{e} {its} are left.", f"After that, {x.s} has {e} {its}.",
                           f"Taking away {n}: {e}.", f"So {x.s} now has {e} {its}.",
                           f"{x.S} has {e} {its} left."]))
            done += 1
        elif kind == "mul":
            k = rng.choice([2, 2, 3, 3, 4, 5])
            word = {2: "doubles", 3: "triples"}.get(k)
            opts = [f"{x.S} ends up with {k} times as many {its} as before.",
                    f"By the end of the month, {x.s} has {k} times as many {its}."]
            if word:
                opts += [f"Then the number of {its} {word}.", f"Then {x.p} number of {its} {word}."]
            b.facts.append(b.pick(opts))
            c, e = b.eq(cur, "*", k)
            b.step(b.pick([f"{e} {its}.", f"{k} times as many means {e}.", f"Now there are {e} {its}."]))
            done += 1
        else:
            k = rng.randint(2, 9)
            n = rng.randint(3, 25)
            b.facts.append(b.pick([f"{x.S} buys {k} {conts} of {its} with {n} in each {cont}.",
                                   f"{x.S} gets {k} {conts}, and each {cont} holds {n} {its}.",
                                   f"Then {x.s} adds {k} {conts} of {n} {its} each."]))
            p, e = b.eq(k, "*", n)
            b.step(b.pick([f"The {conts} hold {e} {its}.", f"{e} {its} come from the {conts}.",
                           f"{k} {conts} of {n} is {e}."]))
            c, e = b.eq(cur, "+", p)
            b.step(b.pick([f"In total {x.s} has {e} {its}.", f"{e} {its}.", f"Together that makes {e}."]))
            done += 2
        cur = c
    if final_share:
        divs = [d for d in range(2, 10) if cur % d == 0]
        if not divs:
            n = rng.randint(2, 60)
            b.facts.append(f"{x.S} buys {n} more {its}.")
            cur, e = b.eq(cur, "+", n)
            b.step(f"Now {x.s} has {e} {its}.")
        else:
            k = rng.choice(divs)
            if rng.random() < 0.5:
                b.facts.append(f"{x.S} shares the {its} equally among {k} friends.")
                b.question = f"How many {its} does each friend get?"
                c, e = b.eq(cur, "/", k)
                b.step(b.pick([f"Each friend gets {e} {its}.", f"{e} {its} for each friend.",
                               f"Sharing among {k}: {e}."]))
            else:
                b.facts.append(f"{x.S} puts all the {its} into {k} {conts} with the same number in each.")
                b.question = f"How many {its} go in each {cont}?"
                c, e = b.eq(cur, "/", k)
                b.step(b.pick([f"Each {cont} gets {e} {its}.", f"{e} {its} in each {cont}."]))
            return c, [x.name, friend.name], [it]
    b.question = b.pick([f"How many {its} does {x.name} have now?", f"How many {its} does {x.s} have at the end?",
                         f"How many {its} does {x.name} have in the end?",
                         f"What is the number of {its} {x.name} has now?"])
    return cur, [x.name, friend.name], [it]


def fam_shopping(b: Builder):
    rng = b.rng
    x = _person(rng)
    (i1, i1s), (i2, i2s) = rng.sample(SHOP, 2)
    q1, q2 = rng.randint(2, 9), rng.randint(2, 9)
    p1, p2 = _num(rng, 2, 40, 0.2, 90), _num(rng, 2, 40, 0.2, 90)
    mode = rng.choices(["total", "change", "budget"], [3, 4, 3])[0]
    m = b.money
    if mode == "budget":
        c1 = q1 * p1
        extra = rng.randint(3, 60)
        have = (c1 + extra) + rng.randint(5, 200)
        b.facts.append(b.pick([f"{x.name} has {m(have)}.", f"{x.name} goes shopping with {m(have)}.",
                               f"{x.name} saved {m(have)} for a trip to the mall."]))
        b.facts.append(b.pick([f"{x.S} buys {q1} {i1s} for {m(p1)} each.",
                               f"{x.S} buys {q1} {i1s}, and each {i1} costs {m(p1)}."]))
        b.facts.append(b.pick([f"{x.S} also buys a {i2} for {m(extra)}.", f"Then {x.s} pays {m(extra)} for a {i2}."]))
        b.question = b.pick([f"How much money does {x.s} have left?", f"How many dollars does {x.name} have left?"])
        c1, e = b.eq(q1, "*", p1)
        b.step(b.pick([f"The {i1s} cost {e} dollars.", f"{q1} {i1s} at {m(p1)} each cost {e}.",
                       f"For the {i1s}: {e}."]))
        t, e = b.eq(c1, "+", extra)
        b.step(b.pick([f"With the {i2}, {x.s} spends {e} dollars.", f"In total {x.s} spends {e}.",
                       f"The total is {e} dollars."]))
        r, e = b.eq(have, "-", t)
        b.step(b.pick([f"{x.S} has {e} dollars left.", f"{e} dollars are left.", f"Left over: {e}."]))
        return r, [x.name], [i1, i2]
    b.facts.append(b.pick([f"{x.name} buys {q1} {i1s} for {m(p1)} each.",
                           f"{x.name} goes to the store and buys {q1} {i1s}. Each {i1} costs {m(p1)}.",
                           f"At the market, {x.name} gets {q1} {i1s} that cost {m(p1)} each."]))
    b.facts.append(b.pick([f"{x.S} also buys {q2} {i2s} at {m(p2)} each.",
                           f"{x.S} also gets {q2} {i2s}, which cost {m(p2)} each.",
                           f"Then {x.s} buys {q2} {i2s} for {m(p2)} apiece."]))
    order = [(q1, p1, i1s), (q2, p2, i2s)]
    if rng.random() < 0.3:
        order.reverse()
    costs = []
    for q, p, its in order:
        c, e = b.eq(q, "*", p)
        costs.append(c)
        b.step(b.pick([f"The {its} cost {e} dollars.", f"{q} {its} at {m(p)} each cost {e}.",
                       f"For the {its}: {e}.", f"{x.S} pays {e} for the {its}."]))
    t, e = b.eq(costs[0], "+", costs[1])
    b.step(b.pick([f"Altogether {x.s} spends {e} dollars.", f"The total is {e}.", f"{e} dollars in total."]))
    if mode == "total":
        b.question = b.pick([f"How much does {x.name} spend in total?", f"How much money does {x.s} spend?",
                             f"How many dollars does {x.name} pay altogether?"])
        return t, [x.name], [i1, i2]
    bill = next(v for v in (20, 50, 100, 200, 500, 1000, 2000) if v > t)
    b.facts.append(b.pick([f"{x.S} pays with a {m(bill)} bill.", f"{x.S} hands the cashier {m(bill)}."]))
    b.question = b.pick([f"How much change does {x.s} get?", f"How much change does {x.name} receive?"])
    r, e = b.eq(bill, "-", t)
    b.step(b.pick([f"The change is {e} dollars.", f"{x.S} gets {e} dollars back.", f"Change: {e}."]))
    return r, [x.name], [i1, i2]


def fam_wages(b: Builder):
    rng = b.rng
    x = _person(rng)
    w = rng.randint(8, 45)
    d1, d2 = rng.sample(DAYS, 2)
    h1 = rng.randint(1, 6)
    h2 = rng.randint(1, 9 - h1)  # total hours stay one digit: every product is 1 digit x n digits
    m = b.money
    b.facts.append(b.pick([f"{x.name} earns {m(w)} per hour at {rng.choice(JOBS)}.",
                           f"{x.name} is paid {m(w)} an hour at {rng.choice(JOBS)}.",
                           f"{x.name} works at {rng.choice(JOBS)} for {m(w)} an hour."]))
    b.facts.append(b.pick([f"{x.S} works {h1} hours on {d1} and {h2} hours on {d2}.",
                           f"On {d1} {x.s} works {h1} hours, and on {d2} {x.s} works {h2} hours.",
                           f"This week {x.s} worked {h1} hours on {d1} and {h2} hours on {d2}."]))
    if rng.random() < 0.6:
        hh, e = b.eq(h1, "+", h2)
        b.step(b.pick([f"{x.S} works {e} hours in total.", f"Total hours: {e}.", f"{e} hours."]))
        pay, e = b.eq(hh, "*", w)
        b.step(b.pick([f"{x.S} earns {e} dollars.", f"The pay is {e}.", f"That is {e} dollars."]))
    else:
        a1, e = b.eq(h1, "*", w)
        b.step(b.pick([f"On {d1} {x.s} earns {e} dollars.", f"{d1}: {e}."]))
        a2, e = b.eq(h2, "*", w)
        b.step(b.pick([f"On {d2} {x.s} earns {e} dollars.", f"{d2}: {e}."]))
        pay, e = b.eq(a1, "+", a2)
        b.step(b.pick([f"Together {x.s} earns {e} dollars.", f"The total pay is {e}."]))
    if rng.random() < 0.5:
        sp = rng.randint(3, pay - 1)
        thing = rng.choice(["lunch", "a book", "bus tickets", "a gift", "groceries", "a new game"])
        b.facts.append(b.pick([f"{x.S} spends {m(sp)} on {thing}.", f"Then {x.s} spends {m(sp)} on {thing}."]))
        b.question = b.pick([f"How much money does {x.s} have left?", f"How many dollars does {x.name} keep?"])
        r, e = b.eq(pay, "-", sp)
        b.step(b.pick([f"After spending {m(sp)}, {x.s} has {e} dollars.", f"{e} dollars are left."]))
        return r, [x.name], []
    b.question = b.pick([f"How much does {x.name} earn in total?", f"How much money does {x.s} make on these two days?",
                         f"How many dollars does {x.name} earn?"])
    return pay, [x.name], []


def fam_compare(b: Builder):
    rng = b.rng
    x = _person(rng)
    y = _person(rng, (x.name,))
    z = _person(rng, (x.name, y.name))
    it, its = rng.choice(ITEMS)
    n = _num(rng, 8, 99, 0.3, 300)
    b.facts.append(b.pick([f"{x.name} has {n} {its}.", f"{x.name} collected {n} {its}.",
                           f"{x.name} owns {n} {its}."]))
    if rng.random() < 0.6:
        d = rng.randint(2, 60)
        b.facts.append(b.pick([f"{y.name} has {d} more {its} than {x.name}.",
                               f"{y.name} has {d} {its} more than {x.name} does."]))
        yv, e = b.eq(n, "+", d)
        b.step(b.pick([f"{y.name} has {e} {its}.", f"Since {y.name} has {d} more, {y.name} has {e}.",
                       f"{y.name}: {e}."]))
    else:
        d = rng.randint(2, n - 3)
        b.facts.append(b.pick([f"{y.name} has {d} fewer {its} than {x.name}.",
                               f"{y.name} has {d} {its} less than {x.name}."]))
        yv, e = b.eq(n, "-", d)
        b.step(b.pick([f"{y.name} has {e} {its}.", f"Since {y.name} has {d} fewer, {y.name} has {e}.",
                       f"{y.name}: {e}."]))
    if yv % 2 == 0 and rng.random() < 0.3:
        b.facts.append(b.pick([f"{z.name} has half as many {its} as {y.name}.",
                               f"{z.name} has half the number of {its} that {y.name} has."]))
        zv, e = b.eq(yv, "/", 2)
    else:
        k = rng.choice([2, 3, 4]) if yv < 400 else 2
        b.facts.append(b.pick([f"{z.name} has {k} times as many {its} as {y.name}.",
                               f"{z.name} owns {k} times the number of {its} {y.name} has."]))
        zv, e = b.eq(yv, "*", k)
    b.step(b.pick([f"{z.name} has {e} {its}.", f"So {z.name} has {e}.", f"{z.name}: {e}."]))
    mode = rng.choices(["z", "yz", "all"], [3, 4, 3])[0]
    if mode == "z":
        b.question = f"How many {its} does {z.name} have?"
        return zv, [x.name, y.name, z.name], [it]
    if mode == "yz":
        b.question = b.pick([f"How many {its} do {y.name} and {z.name} have together?",
                             f"How many {its} do {y.name} and {z.name} have in total?"])
        t, e = b.eq(yv, "+", zv)
        b.step(b.pick([f"Together they have {e} {its}.", f"{e} {its} in total.", f"Both have {e}."]))
        return t, [x.name, y.name, z.name], [it]
    b.question = b.pick([f"How many {its} do the three of them have together?",
                         f"How many {its} do {x.name}, {y.name} and {z.name} have in total?"])
    t, e = b.eq(n, "+", yv)
    b.step(b.pick([f"{x.name} and {y.name} have {e}.", f"First two: {e}."]))
    t2, e = b.eq(t, "+", zv)
    b.step(b.pick([f"All three have {e} {its}.", f"Together they have {e}.", f"In total: {e} {its}."]))
    return t2, [x.name, y.name, z.name], [it]


def fam_distance(b: Builder):
    rng = b.rng
    veh, lo, hi = rng.choice(VEHICLES)
    unit = rng.choice(["km", "miles"])
    v1, v2 = rng.randint(lo, hi), rng.randint(lo, hi)
    t1, t2 = rng.randint(2, 6), rng.randint(1, 5)
    b.facts.append(b.pick([f"A {veh} travels at {v1} {unit} per hour for {t1} hours.",
                           f"A {veh} goes {v1} {unit} an hour for {t1} hours."]))
    b.facts.append(b.pick([f"Then it travels at {v2} {unit} per hour for {t2} more hours.",
                           f"After a break it goes {v2} {unit} an hour for {t2} hours."]))
    d1, e = b.eq(v1, "*", t1)
    b.step(b.pick([f"The first part is {e} {unit}.", f"First: {e} {unit}.", f"In the first {t1} hours it goes {e} {unit}."]))
    d2, e = b.eq(v2, "*", t2)
    b.step(b.pick([f"The second part is {e} {unit}.", f"Second: {e} {unit}.", f"Then it goes {e} {unit}."]))
    mode = rng.choices(["total", "left", "diff"], [4, 3, 2])[0]
    if mode == "diff" and d1 != d2:
        hi_, lo_ = max(d1, d2), min(d1, d2)
        b.question = f"How many more {unit} does it travel in the longer part than in the shorter part?"
        r, e = b.eq(hi_, "-", lo_)
        b.step(b.pick([f"The difference is {e} {unit}.", f"{e} {unit} more."]))
        return r, [], []
    t, e = b.eq(d1, "+", d2)
    b.step(b.pick([f"In total it travels {e} {unit}.", f"Total: {e} {unit}.", f"Altogether {e} {unit}."]))
    if mode == "left":
        trip = t + rng.randint(5, 300)
        b.facts.insert(0, b.pick([f"A trip is {trip} {unit} long.", f"The whole route is {trip} {unit}."]))
        b.question = f"How many {unit} are left to travel?"
        r, e = b.eq(trip, "-", t)
        b.step(b.pick([f"{e} {unit} are left.", f"Left: {e} {unit}."]))
        return r, [], []
    b.question = b.pick([f"How many {unit} does the {veh} travel in total?", f"How far does the {veh} go altogether?"])
    return t, [], []


def fam_ages(b: Builder):
    rng = b.rng
    x = _person(rng)
    y = _person(rng, (x.name,))
    n = rng.randint(6, 60)
    b.facts.append(b.pick([f"{x.name} is {n} years old.", f"{x.name} is {n}."]))
    if rng.random() < 0.5:
        d = rng.randint(2, 30)
        b.facts.append(b.pick([f"{y.name} is {d} years older than {x.name}.", f"{y.name} is {d} years older."]))
        yv, e = b.eq(n, "+", d)
    else:
        d = rng.randint(1, n - 2)
        b.facts.append(b.pick([f"{y.name} is {d} years younger than {x.name}.", f"{y.name} is {d} years younger."]))
        yv, e = b.eq(n, "-", d)
    b.step(b.pick([f"{y.name} is {e} years old.", f"{y.name}'s age is {e}.", f"{y.name}: {e}."]))
    mode = rng.choice(["future", "past", "sum", "future_sum"])
    if mode == "past" and yv > 3:
        k = rng.randint(1, yv - 1)
        b.question = f"How old was {y.name} {k} years ago?"
        r, e = b.eq(yv, "-", k)
        b.step(b.pick([f"{k} years ago {y.s} was {e}.", f"{e} years old."]))
        return r, [x.name, y.name], []
    if mode == "sum":
        b.question = f"What is the sum of their ages?"
        r, e = b.eq(n, "+", yv)
        b.step(b.pick([f"Together they are {e} years old.", f"The sum is {e}."]))
        return r, [x.name, y.name], []
    k = rng.randint(2, 20)
    if mode == "future":
        b.question = f"How old will {y.name} be in {k} years?"
        r, e = b.eq(yv, "+", k)
        b.step(b.pick([f"In {k} years {y.s} will be {e}.", f"{e} years old."]))
        return r, [x.name, y.name], []
    b.question = f"In {k} years, what will the sum of their ages be?"
    a1, e = b.eq(n, "+", k)
    b.step(b.pick([f"{x.name} will be {e}.", f"{x.name}: {e}."]))
    a2, e = b.eq(yv, "+", k)
    b.step(b.pick([f"{y.name} will be {e}.", f"{y.name}: {e}."]))
    r, e = b.eq(a1, "+", a2)
    b.step(b.pick([f"The sum will be {e}.", f"Together: {e}."]))
    return r, [x.name, y.name], []


def fam_grid(b: Builder):
    rng = b.rng
    rows, things, unit, left = rng.choice(GRIDS)
    r, c = rng.randint(3, 9), rng.randint(4, 40)
    b.facts.append(b.pick([f"There are {r} {rows} with {c} {things} in each {unit}.",
                           f"A hall has {r} {rows}, and each {unit} has {c} {things}."]))
    tot, e = b.eq(r, "*", c)
    b.step(b.pick([f"There are {e} {things}.", f"In total: {e} {things}.", f"{r} {rows} of {c} is {e}."]))
    cur = tot
    if rng.random() < 0.5:
        add = rng.randint(3, 60)
        b.facts.append(b.pick([f"Then {add} more {things} are added.", f"Workers bring {add} extra {things}."]))
        cur, e = b.eq(cur, "+", add)
        b.step(b.pick([f"With the extra ones there are {e}.", f"Now there are {e} {things}."]))
    used = rng.randint(2, cur - 1)
    verb = {"empty": "are taken", "unpicked": "are picked", "left": "are taken away", "free": "are taken"}[left]
    b.facts.append(f"{used} of the {things} {verb}.")
    b.question = f"How many {things} are {left}?"
    res, e = b.eq(cur, "-", used)
    b.step(b.pick([f"{e} {things} are {left}.", f"So {e} are {left}.", f"{left.capitalize()}: {e}."]))
    return res, [], []


def fam_savings(b: Builder):
    rng = b.rng
    x = _person(rng)
    s, w = rng.randint(4, 75), rng.randint(2, 9)
    m = b.money
    b.facts.append(b.pick([f"{x.name} saves {m(s)} every week.", f"Each week {x.name} puts {m(s)} into a piggy bank.",
                           f"{x.name} saves {m(s)} a week for {w} weeks."]))
    if "for" not in b.facts[-1]:
        b.facts.append(f"{x.S} does this for {w} weeks.")
    tot, e = b.eq(s, "*", w)
    b.step(b.pick([f"{x.S} saves {e} dollars.", f"After {w} weeks {x.s} has {e} dollars.", f"Savings: {e}."]))
    cur = tot
    if rng.random() < 0.4:
        g = rng.randint(5, 100)
        b.facts.append(b.pick([f"{x.p.capitalize()} {rng.choice(RELATIVES)} gives {x.o} {m(g)}.",
                               f"{x.S} also gets {m(g)} for {x.p} birthday."]))
        cur, e = b.eq(cur, "+", g)
        b.step(b.pick([f"With the gift {x.s} has {e} dollars.", f"Now {x.s} has {e}."]))
    sp = rng.randint(3, cur - 1)
    thing = rng.choice(["a bike", "a game", "a jacket", "a concert ticket", "books", "a skateboard"])
    b.facts.append(b.pick([f"Then {x.s} spends {m(sp)} on {thing}.", f"{x.S} buys {thing} for {m(sp)}."]))
    b.question = b.pick([f"How much money does {x.s} have left?", f"How many dollars does {x.name} have now?"])
    r, e = b.eq(cur, "-", sp)
    b.step(b.pick([f"{x.S} has {e} dollars left.", f"{e} dollars are left.", f"Left: {e} dollars."]))
    return r, [x.name], []


def fam_boxes(b: Builder):
    rng = b.rng
    x = _person(rng)
    it, its = rng.choice(ITEMS)
    cont, conts = rng.choice(CONTAINERS)
    k, q = rng.randint(2, 9), rng.randint(3, 40)
    n = k * q
    b.facts.append(b.pick([f"{x.name} has {n} {its} and puts them in {conts} of {k}.",
                           f"{x.name} packs {n} {its} into {conts}, with {k} {its} in each {cont}.",
                           f"There are {n} {its}, and {x.name} puts {k} in each {cont}."]))
    boxes, e = b.eq(n, "/", k)
    b.step(b.pick([f"That fills {e} {conts}.", f"There are {e} {conts}.", f"{x.S} needs {e} {conts}."]))
    if rng.random() < 0.5:
        s = rng.randint(1, boxes - 1)
        b.facts.append(b.pick([f"{x.S} sells {s} {conts}.", f"{x.S} gives {s} {conts} to friends."]))
        b.question = f"How many {conts} are left?"
        r, e = b.eq(boxes, "-", s)
        b.step(b.pick([f"{e} {conts} are left.", f"Left: {e} {conts}."]))
        if rng.random() < 0.5:
            p = rng.randint(2, 9)
            b.facts.append(f"Each {cont} left over is sold later for {b.money(p)}.")
            b.question = "How much money does the sale of the remaining " + conts + " bring in?"
            r2, e = b.eq(r, "*", p)
            b.step(b.pick([f"That brings {e} dollars.", f"{e} dollars."]))
            return r2, [x.name], [it]
        return r, [x.name], [it]
    p = rng.randint(2, 9)
    b.facts.append(b.pick([f"{x.S} sells each {cont} for {b.money(p)}.", f"Every {cont} sells for {b.money(p)}."]))
    b.question = b.pick([f"How much money does {x.s} get for all the {conts}?", f"How many dollars does {x.name} make?"])
    r, e = b.eq(boxes, "*", p)
    b.step(b.pick([f"{x.S} makes {e} dollars.", f"That is {e} dollars."]))
    return r, [x.name], [it]


def fam_pool(b: Builder):
    rng = b.rng
    x = _person(rng)
    y = _person(rng, (x.name,))
    it, its = rng.choice(ITEMS)
    k = rng.randint(2, 9)
    q = rng.randint(3, 60)
    total = k * q
    a = rng.randint(1, total - 1)
    c = total - a
    b.facts.append(b.pick([f"{x.name} picks {a} {its} and {y.name} picks {c} {its}.",
                           f"{x.name} has {a} {its}. {y.name} has {c} {its}."]))
    b.facts.append(b.pick([f"They put them together and share them equally among {k} people.",
                           f"They pool their {its} and split them evenly into {k} groups."]))
    t, e = b.eq(a, "+", c)
    b.step(b.pick([f"Together they have {e} {its}.", f"Total: {e} {its}."]))
    each, e = b.eq(t, "/", k)
    b.step(b.pick([f"Each gets {e} {its}.", f"Each share is {e}.", f"Sharing among {k}: {e}."]))
    if each > 2 and rng.random() < 0.5:
        u = rng.randint(1, each - 1)
        b.facts.append(f"Each person then uses {u} of their {its}.")
        b.question = f"How many {its} does each person have left?"
        r, e = b.eq(each, "-", u)
        b.step(b.pick([f"Each has {e} {its} left.", f"Left: {e}."]))
        return r, [x.name, y.name], [it]
    b.question = b.pick([f"How many {its} does each person get?", f"How many {its} are in each share?"])
    return each, [x.name, y.name], [it]


FAMILY_FUNCS = {"inventory": fam_inventory, "shopping": fam_shopping, "wages": fam_wages,
                "compare": fam_compare, "distance": fam_distance, "ages": fam_ages, "grid": fam_grid,
                "savings": fam_savings, "boxes": fam_boxes, "pool": fam_pool}


def _distractor(rng: random.Random, b: Builder, people: List[str], avoid: List[str]) -> str:
    o = _person(rng, tuple(people))
    its = rng.choice([p for s, p in ITEMS if s not in avoid])
    n = rng.randint(2, 99)
    main = people[0] if people else None
    opts = [f"{o.name} has {n} {its}.", f"{o.name} bought {n} {its} last week.",
            f"It takes {n} minutes to walk to the {rng.choice(PLACES)}.",
            f"There are {n} students in {o.name}'s class.",
            f"The {rng.choice(PLACES)} is {rng.randint(2, 40)} kilometers away.",
            f"The shop opens at {rng.randint(7, 11)} o'clock."]
    if main:
        opts += [f"{main}'s {rng.choice(RELATIVES)} is {rng.randint(5, 80)} years old.",
                 f"{main} also has {n} {its}, but they stay at home."]
    return rng.choice(opts)


def problem(seed: str) -> Dict:
    """One problem from its seed string: question, solution (ends with the final-answer line), answer.
    Seeds "train1:<i>" / "heldout1:<i>" give one-step problems (onestep_problem)."""
    if seed.startswith(ONESTEP_PREFIXES):
        return onestep_problem(seed)
    rng = random.Random(seed)
    fam = rng.choices(FAMILIES, FAMILY_WEIGHTS)[0]
    b = Builder(rng)
    answer, people, avoid = FAMILY_FUNCS[fam](b)
    facts = list(b.facts)
    n_d = rng.choices([0, 1, 2], [4, 4, 2])[0]
    for _ in range(n_d):  # never before the first fact, which introduces the main person
        facts.insert(rng.randint(1, len(facts)), _distractor(rng, b, people, avoid))
    question = " ".join(facts + [b.question])
    steps = list(b.steps)
    if rng.random() < 0.35:
        n = len(steps)
        firsts = ["First, ", "To start, "]
        for i in range(n):
            pre = rng.choice(firsts) if i == 0 else ("Finally, " if i == n - 1 and n > 2 else rng.choice(["Then ", "Next, ", ""]))
            s = steps[i]
            word = s.split(" ", 1)[0]
            if pre and word in _LOWER_STARTS:
                steps[i] = pre + s[0].lower() + s[1:]
            elif pre and word[0].isdigit():
                steps[i] = pre + s
    if rng.random() < 0.15:
        steps.insert(0, rng.choice(["Let's solve it step by step.", "We work it out one step at a time."]))
    final = rng.choice(FINAL_LINES).format(a=answer)
    solution = "\n".join(steps + [final])
    return {"question": question, "solution": solution, "answer": answer, "family": fam,
            "n_ops": len(b.ops), "ops": b.ops}


# --------------------------------------------------------------------------------------------
# One-step problems: plain phrasings people type (first person, third person, bare arithmetic).
# Seeds "train1:<i>" / "heldout1:<i>" (problem() dispatches on the prefix); one operation, the
# same `a op b = c` step line and final-answer line as the multi-step families. Multiplication
# and division keep a one-digit operand (factor or divisor), like the multi-step families.

ONESTEP_FAMILIES = ["one-add", "one-sub", "one-mul", "one-div"]
ONESTEP_WEIGHTS = [1, 1, 1, 1]
ONESTEP_PREFIXES = ("train1:", "heldout1:")
_FRIENDS = ["my friend", "my sister", "my brother", "my mom", "my dad", "my neighbor", "my teacher",
            "my cousin", "a friend"]


def _one_add(b: Builder, x: Person, style: str):
    rng = b.rng
    it, its = rng.choice(ITEMS)
    a = _num(rng, 1, 60, 0.3, 500)
    n = _num(rng, 1, 60, 0.3, 500)
    c, e = b.eq(a, "+", n)
    if style == "bare":
        q = b.pick([f"What is {a} plus {n}?", f"What is {a} + {n}?", f"What's {a} + {n}?", f"{a} + {n} = ?",
                    f"How much is {a} plus {n}?", f"Add {a} and {n}.", f"What do you get if you add {a} and {n}?",
                    f"Calculate {a} + {n}.", f"What is the sum of {a} and {n}?", f"{a} plus {n}?"])
        s = b.pick([f"{e}", f"{a} plus {n}: {e}.", f"Adding them: {e}."])
    elif style == "first":
        fr = rng.choice(_FRIENDS)
        f1 = b.pick([f"I have {a} {its} and buy {n} more.", f"I have {a} {its}. I get {n} more.",
                     f"I had {a} {its} and {fr} gave me {n} more.", f"I have {a} {its} and find {n} more.",
                     f"I have {a} {its}, then I buy another {n}.", f"I've got {a} {its} and I pick up {n} more."])
        q = f1 + " " + b.pick(["How many do I have?", f"How many {its} do I have now?", "How many do I have now?",
                               f"How many {its} do I have in total?", "How many is that?"])
        s = b.pick([f"You have {e} {its}.", f"{e} {its} in total.", f"With {n} more: {e}.", f"{e}"])
    else:
        f1 = b.pick([f"{x.name} has {a} {its} and buys {n} more.", f"{x.name} has {a} {its}. {x.S} finds {n} more.",
                     f"{x.name} had {a} {its} and got {n} more as a gift.", f"{x.name} picks {a} {its} and then {n} more."])
        q = f1 + " " + b.pick([f"How many {its} does {x.s} have now?", f"How many {its} does {x.name} have?",
                               "How many are there in total?", f"How many does {x.s} have in all?"])
        s = b.pick([f"{x.S} has {e} {its}.", f"{e} {its} in total.", f"Now {x.s} has {e} {its}."])
    return c, q, s


def _one_sub(b: Builder, x: Person, style: str):
    rng = b.rng
    it, its = rng.choice(ITEMS)
    a = _num(rng, 5, 99, 0.3, 600)
    n = rng.randint(1, a - 1)
    c, e = b.eq(a, "-", n)
    if style == "bare":
        q = b.pick([f"What is {a} minus {n}?", f"What is {a} - {n}?", f"What's {a} - {n}?", f"{a} - {n} = ?",
                    f"Subtract {n} from {a}.", f"What is {n} less than {a}?", f"Calculate {a} - {n}.",
                    f"How much is {a} take away {n}?", f"What is the difference between {a} and {n}?", f"{a} minus {n}?"])
        s = b.pick([f"{e}", f"{a} minus {n}: {e}.", f"Taking away {n}: {e}."])
    elif style == "first":
        fr = rng.choice(_FRIENDS)
        f1 = b.pick([f"I have {a} {its} and give {n} to {fr}.", f"I had {a} {its} and I ate {n}." if it in
                     ("apple", "cookie", "cupcake", "orange", "pear", "plum", "muffin") else f"I had {a} {its} and lost {n}.",
                     f"I have {a} {its}. I sell {n} of them.", f"I have {a} {its} and use {n}.",
                     f"I started with {a} {its} and gave away {n}."])
        q = f1 + " " + b.pick(["How many are left?", "How many do I have left?", f"How many {its} do I have now?",
                               "How many do I have?"])
        s = b.pick([f"You have {e} {its} left.", f"{e} {its} are left.", f"Taking away {n}: {e}.", f"{e}"])
    else:
        f1 = b.pick([f"{x.name} has {a} {its} and gives away {n}.", f"{x.name} has {a} {its}. {x.S} loses {n}.",
                     f"{x.name} had {a} {its} and sold {n} of them.", f"{x.name} has {a} {its} and gives {n} to a friend."])
        q = f1 + " " + b.pick(["How many are left?", f"How many {its} does {x.s} have left?",
                               f"How many {its} does {x.name} have now?", f"How many does {x.s} have?"])
        s = b.pick([f"{x.S} has {e} {its} left.", f"{e} {its} are left.", f"{e} {its}."])
    return c, q, s


def _one_mul(b: Builder, x: Person, style: str):
    rng = b.rng
    k = rng.randint(2, 9)
    n = _num(rng, 2, 30, 0.3, 120)
    if rng.random() < 0.5:
        k, n = n, k  # the one-digit factor first or second
    if style == "bare":
        c, e = b.eq(k, "*", n)
        q = b.pick([f"What is {k} times {n}?", f"What is {k} * {n}?", f"What's {k} x {n}?", f"{k} × {n} = ?",
                    f"Multiply {k} by {n}.", f"What is {k} multiplied by {n}?", f"Calculate {k} * {n}.",
                    f"What is the product of {k} and {n}?", f"{k} times {n}?"])
        s = b.pick([f"{e}", f"{k} times {n}: {e}."])
        return c, q, s
    kk, nn = min(k, n), max(k, n)
    if rng.random() < 0.5:  # containers of items
        it, its = rng.choice(ITEMS)
        cont, conts = rng.choice(CONTAINERS)
        c, e = b.eq(kk, "*", nn)
        if style == "first":
            q = b.pick([f"I buy {kk} {conts} of {its} with {nn} in each {cont}. How many {its} do I have?",
                        f"I have {kk} {conts} and each {cont} holds {nn} {its}. How many {its} is that?",
                        f"I have {kk} {conts} of {nn} {its}. How many {its} do I have?"])
            s = b.pick([f"You have {e} {its}.", f"{kk} {conts} of {nn} is {e}.", f"{e} {its}."])
        else:
            q = b.pick([f"{x.name} has {kk} {conts} with {nn} {its} in each. How many {its} does {x.s} have?",
                        f"{x.name} buys {kk} {conts} of {its}. Each {cont} has {nn} {its}. How many {its} is that?"])
            s = b.pick([f"{x.S} has {e} {its}.", f"{kk} {conts} of {nn} is {e}.", f"{e} {its}."])
        return c, q, s
    (itm, itms) = rng.choice(SHOP)
    m = b.money
    c, e = b.eq(kk, "*", nn)
    if style == "first":
        q = b.pick([f"I buy {kk} {itms} for {m(nn)} each. How much do I pay?",
                    f"{itms.capitalize()} cost {m(nn)} each and I want {kk}. How much is that?",
                    f"I bought {kk} {itms} at {m(nn)} each. How much did I spend?"])
        s = b.pick([f"You pay {e} dollars.", f"{kk} {itms} at {m(nn)} each cost {e}.", f"{e} dollars."])
    else:
        q = b.pick([f"{x.name} buys {kk} {itms} for {m(nn)} each. How much does {x.s} pay?",
                    f"{x.name} buys {kk} {itms}. Each {itm} costs {m(nn)}. How much money does {x.s} spend?"])
        s = b.pick([f"{x.S} pays {e} dollars.", f"{kk} {itms} at {m(nn)} each cost {e}.", f"{e} dollars."])
    return c, q, s


def _one_div(b: Builder, x: Person, style: str):
    rng = b.rng
    k = rng.randint(2, 9)
    r = _num(rng, 2, 30, 0.3, 120)
    n = k * r
    c, e = b.eq(n, "/", k)
    it, its = rng.choice(ITEMS)
    cont, conts = rng.choice(CONTAINERS)
    if style == "bare":
        q = b.pick([f"What is {n} divided by {k}?", f"What is {n} / {k}?", f"What's {n} ÷ {k}?", f"{n} / {k} = ?",
                    f"Divide {n} by {k}.", f"How many times does {k} go into {n}?", f"Calculate {n} / {k}.",
                    f"{n} divided by {k}?"])
        s = b.pick([f"{e}", f"{n} divided by {k}: {e}."])
    else:
        share = [f"Each gets {e} {its}.", f"Sharing among {k}: {e}.", f"{e}"]
        fill = [f"{n} {its} in {conts} of {k}: {e} {conts}.", f"That fills {e} {conts}.", f"{e}"]
        each = [f"Each {cont} gets {e} {its}.", f"{e} {its} in each {cont}.", f"{e}"]
        if style == "first":
            opts = [(f"I have {n} {its} and share them equally among {k} friends. How many does each friend get?", share),
                    (f"I split {n} {its} evenly between {k} people. How many does each person get?", share),
                    (f"I have {n} {its} and want to put them into {k} {conts} equally. How many go in each {cont}?", each),
                    (f"I have {n} {its} and put {k} in each {cont}. How many {conts} do I need?", fill)]
        else:
            opts = [(f"{x.name} shares {n} {its} equally among {k} friends. How many does each friend get?", share),
                    (f"{x.name} puts {n} {its} into {k} {conts} with the same number in each. "
                     f"How many {its} are in each {cont}?", each),
                    (f"{x.name} has {n} {its} and packs {k} in each {cont}. How many {conts} does {x.s} fill?", fill)]
        q, sol = b.pick(opts)
        s = b.pick(sol)
    return c, q, s


ONESTEP_FUNCS = {"one-add": _one_add, "one-sub": _one_sub, "one-mul": _one_mul, "one-div": _one_div}


def _typed(rng: random.Random, q: str) -> str:
    """Casual typing: sometimes all lowercase, sometimes without the final punctuation."""
    if rng.random() < 0.15:
        q = q.lower()
    if rng.random() < 0.15 and q[-1] in "?.":
        q = q[:-1].rstrip()
    return q


def onestep_problem(seed: str) -> Dict:
    rng = random.Random(seed)
    fam = rng.choices(ONESTEP_FAMILIES, ONESTEP_WEIGHTS)[0]
    style = rng.choices(["bare", "first", "third"], [3, 4, 3])[0]
    b = Builder(rng)
    x = _person(rng)
    answer, q, s = ONESTEP_FUNCS[fam](b, x, style)
    steps = [s]
    if rng.random() < 0.1:
        steps.insert(0, rng.choice(["Let's solve it step by step.", "We work it out one step at a time."]))
    final = rng.choice(FINAL_LINES).format(a=answer)
    return {"question": _typed(rng, q), "solution": "\n".join(steps + [final]), "answer": answer,
            "family": fam, "n_ops": len(b.ops), "ops": b.ops, "style": style}


def verify(p: Dict) -> List[str]:
    """Problems with a problem dict: arithmetic, locality of operands, final answer. [] when fine."""
    errs = []
    qnums = {int(v) for v in re.findall(r"\d+", p["question"])}
    known = set(qnums)
    eqs = EQ_RE.findall(p["solution"])
    if len(eqs) != p["n_ops"]:
        errs.append(f"{len(eqs)} equations in the text, {p['n_ops']} operations")
    for a, sym, b_, c in eqs:
        a, b_, c = int(a), int(b_), int(c)
        if sym == "+":
            ok = a + b_ == c
        elif sym == "-":
            ok = a - b_ == c
        elif sym in "*x×":
            ok = a * b_ == c
        else:
            ok = b_ != 0 and a % b_ == 0 and a // b_ == c
        if not ok:
            errs.append(f"wrong equation {a} {sym} {b_} = {c}")
        for v in (a, b_):
            if v not in known and v not in (2, 3):  # "half", "doubles", "triples": implicit 2 and 3
                errs.append(f"operand {v} is neither in the question nor an earlier result")
        known.add(c)
    if eqs and int(eqs[-1][3]) != p["answer"]:
        errs.append("last equation does not give the answer")
    if extract_answer(p["solution"]) != p["answer"]:
        errs.append("final-answer line does not give the answer")
    if p["answer"] < 0:
        errs.append("negative answer")
    if p["question"] != p["question"].strip() or p["solution"] != p["solution"].strip():
        errs.append("leading or trailing whitespace")
    return errs


if __name__ == "__main__":
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    for i in range(n):
        p = problem(f"train:{i}")
        print(f"--- [{p['family']}] answer {p['answer']}\nQ: {p['question']}\nA: {p['solution']}\n")
        assert not verify(p), verify(p)
