"""``python -m lib.batch``: the book's batch runner (:mod:`lib.book.batch`), under the name the README documents."""

from lib.book.batch import main

if __name__ == "__main__":
    raise SystemExit(main())
