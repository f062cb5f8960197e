"""Class-heavy object model: an entity/component world with an abstract shape hierarchy, __slots__
vectors with operator overloading, validating descriptors, properties, class and static methods,
super() chains, __getattr__ fallbacks and isinstance dispatch.

Attribute lookups, method calls through the MRO and dunder dispatch dominate.
"""

import abc

REPS = 160  # units of work at full scale (about 1.5 s on a stock default build)


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def __sub__(self, other):
        return Vec(self.x - other.x, self.y - other.y)

    def __mul__(self, k):
        return Vec(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __eq__(self, other):
        return isinstance(other, Vec) and self.x == other.x and self.y == other.y

    def __hash__(self):
        return hash((self.x, self.y))

    def __iter__(self):
        yield self.x
        yield self.y

    @property
    def norm1(self):
        return abs(self.x) + abs(self.y)

    def __repr__(self):
        return "Vec(%d, %d)" % (self.x, self.y)


class Positive:
    """A data descriptor that validates and stores into the instance dict under a private name."""

    def __set_name__(self, owner, name):
        self.private = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj, self.private)

    def __set__(self, obj, value):
        if value <= 0:
            raise ValueError("%s must be positive" % self.private[1:])
        setattr(obj, self.private, value)


class Shape(abc.ABC):
    count = 0

    def __init__(self, origin):
        self.origin = origin
        type(self).count += 1

    @abc.abstractmethod
    def area(self):
        ...

    @abc.abstractmethod
    def perimeter(self):
        ...

    def describe(self):
        return "%s@%r a=%d p=%d" % (type(self).__name__, self.origin, self.area(), self.perimeter())

    def __lt__(self, other):
        return (self.area(), self.perimeter()) < (other.area(), other.perimeter())


class Rect(Shape):
    width = Positive()
    height = Positive()

    def __init__(self, origin, width, height):
        super().__init__(origin)
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.height

    def perimeter(self):
        return 2 * (self.width + self.height)

    @classmethod
    def from_corners(cls, a, b):
        d = b - a
        return cls(a, abs(d.x) or 1, abs(d.y) or 1)


class Square(Rect):
    def __init__(self, origin, side):
        super().__init__(origin, side, side)

    @classmethod
    def from_corners(cls, a, b):
        d = b - a
        return cls(a, max(abs(d.x), abs(d.y)) or 1)


class Tri(Shape):
    base = Positive()
    height = Positive()

    def __init__(self, origin, base, height):
        super().__init__(origin)
        self.base = base
        self.height = height

    def area(self):
        return self.base * self.height // 2

    def perimeter(self):
        return self.base * 3


class Component:
    def update(self, entity, world):
        pass


class Motion(Component):
    def __init__(self, velocity):
        self.velocity = velocity

    def update(self, entity, world):
        entity.position = entity.position + self.velocity
        if not world.inside(entity.position):
            self.velocity = self.velocity * -1


class Health(Component):
    def __init__(self, hp):
        self.hp = hp

    def update(self, entity, world):
        if entity.position.norm1 % 7 == 0:
            self.hp -= 1


class Entity:
    next_id = 0

    def __init__(self, position, *components):
        self.id = Entity.next_id
        Entity.next_id += 1
        self.position = position
        self.components = {type(c): c for c in components}

    def __getattr__(self, name):
        # entity.health -> its Health component, entity.motion -> Motion, and so on.
        for cls, comp in self.components.items():
            if cls.__name__.lower() == name:
                return comp
        raise AttributeError(name)

    def tick(self, world):
        for comp in self.components.values():
            comp.update(self, world)


class World:
    def __init__(self, size):
        self.size = size
        self.entities = []

    def inside(self, p):
        return 0 <= p.x < self.size and 0 <= p.y < self.size

    @staticmethod
    def grid_key(p, cell):
        return (p.x // cell, p.y // cell)

    def step(self):
        for e in self.entities:
            e.tick(self)
        buckets = {}
        for e in self.entities:
            buckets.setdefault(World.grid_key(e.position, 8), []).append(e)
        return max(len(b) for b in buckets.values())


def shapes_part(n):
    shapes = []
    for i in range(n):
        a = Vec(i % 17, i % 23)
        b = Vec(i % 31 + 3, i % 19 + 2)
        if i % 3 == 0:
            shapes.append(Rect.from_corners(a, b))
        elif i % 3 == 1:
            shapes.append(Square.from_corners(a, b))
        else:
            shapes.append(Tri(a, i % 9 + 1, i % 5 + 1))
    shapes.sort()
    seen = set()
    total = 0
    for s in shapes:
        seen.add(s.origin)
        if isinstance(s, Square):
            total += 3 * s.area()
        elif isinstance(s, Rect):
            total += 2 * s.area()
        else:
            total += s.perimeter()
    bad = 0
    for i in range(n // 10):
        try:
            Rect(Vec(0, 0), i % 3 - 1, 1)
        except ValueError:
            bad += 1
    return total + len(seen) + bad + len(shapes[-1].describe())


def world_part(n_entities, steps):
    world = World(64)
    for i in range(n_entities):
        comps = [Motion(Vec(i % 5 - 2, i % 3 - 1))]
        if i % 2 == 0:
            comps.append(Health(100))
        world.entities.append(Entity(Vec((i * 7) % 64, (i * 11) % 64), *comps))
    crowd = 0
    for _ in range(steps):
        crowd += world.step()
    hp = sum(e.health.hp for e in world.entities if Health in e.components)
    pos = sum(x * 3 + y for e in world.entities for x, y in [tuple(e.position)])
    return crowd + hp + pos


def unit():
    Shape.count = Rect.count = Square.count = Tri.count = 0
    Entity.next_id = 0
    total = shapes_part(600)
    total += world_part(80, 30)
    return total + Rect.count + Square.count * 2 + Tri.count * 3 + Entity.next_id


EXPECTED = 192420

# The function the breakpoint tools stop in (a method called once per entity per step).
BREAKPOINT = Motion.update

