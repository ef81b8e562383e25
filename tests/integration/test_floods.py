"""integration_floods: the partial-frame budget and the bound on unread
replies, against the real binaries (see test_bounds.py, cases 4 and 1)."""
from test_bounds import partial_frames, run_cases, unread_replies

if __name__ == "__main__":
    run_cases("integration_floods", (partial_frames, unread_replies))
