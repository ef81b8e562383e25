"""A Python model of what agents record, kept independently of the C code,
so the tests can say exactly what the server's report must add up to."""
import random

from lmtest import amount, check, fen, grams

PRODUCTS = ["potato", "corn", "apple", "kiwi", "tea"]
GRADES = ["A", "B", "C"]


class Ledger:
    def __init__(self):
        self.collections = {}  # id -> dict(agent, weight_g, price_fen, amount_fen, ...)
        self.deltas = {}       # collection id -> [(delta_g, delta_fen)]
        self.voided = set()

    def collect(self, agent, farmer, product, grade, kg, price):
        cid = agent.new_id("collect", "--farmer", farmer, "--product", product, "--grade",
                           grade, "--kg", kg, "--price", price)
        if check(cid, "collect by %s returned an id" % agent.uid):
            w, p = grams(kg), fen(price)
            self.collections[cid] = dict(agent=agent.uid, weight_g=w, unit_price_fen=p,
                                         amount_fen=amount(w, p), product=product, grade=grade,
                                         farmer_id=farmer)
        return cid

    def adjust(self, agent, cid, delta_kg):
        aid = agent.new_id("adjust", "--collection", cid, "--delta-kg", delta_kg, "--reason",
                           "reweighed")
        if check(aid, "adjust by %s returned an id" % agent.uid):
            c = self.collections[cid]
            d = grams(delta_kg)
            self.deltas.setdefault(cid, []).append((d, amount(d, c["unit_price_fen"])))
        return aid

    def void(self, agent, cid):
        aid = agent.new_id("adjust", "--collection", cid, "--void", "--reason", "wrong farmer")
        if check(aid, "void by %s returned an id" % agent.uid):
            self.voided.add(cid)
        return aid

    def totals(self, key):
        """{group: [weight_g, amount_fen]} over non-void collections."""
        out = {}
        for cid, c in self.collections.items():
            if cid in self.voided:
                continue
            w = c["weight_g"] + sum(d for d, _ in self.deltas.get(cid, []))
            m = c["amount_fen"] + sum(f for _, f in self.deltas.get(cid, []))
            t = out.setdefault(key(c), [0, 0])
            t[0] += w
            t[1] += m
        return out

    def random_day(self, agent, farmers, rng, n):
        """n purchases with varied products, grades, weights and prices, some
        graded; returns the new collection ids."""
        ids = []
        for _ in range(n):
            kg = "%d.%03d" % (rng.randint(0, 80), rng.randint(1, 999))
            price = "%d.%02d" % (rng.randint(1, 12), rng.randint(0, 99))
            cid = self.collect(agent, rng.choice(farmers), rng.choice(PRODUCTS),
                               rng.choice(GRADES), kg, price)
            if cid and rng.random() < 0.5:
                agent.new_id("grade", "--collection", cid, "--grade", rng.choice(GRADES),
                             "--moisture", "%d.%d" % (rng.randint(8, 30), rng.randint(0, 9)))
            if cid:
                ids.append(cid)
        return ids


def new_rng(seed):
    return random.Random(seed)
