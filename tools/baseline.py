"""
baseline: the plain streaming TF-IDF cosine clusterer storyd is measured against.

Articles arrive one at a time. Each is tokenised (lowercase alphanumeric
words of title and body, minus a small stop-word list), document frequencies
are updated with it, and it is weighted with the idf of that moment:
w(t) = (1 + ln tf) * (ln((1 + N) / (1 + df)) + 1). It joins the cluster whose
centroid (the sum of its members' tf-idf vectors) has the highest cosine with
it, if that cosine is at least the threshold; otherwise it starts a cluster.
Nothing is ever re-weighted or re-clustered.

Because document frequencies do not depend on the clustering, vectorise()
runs once and cluster() can be swept over thresholds cheaply.
"""

import math
import re
from collections import Counter, defaultdict

TOKEN = re.compile(r"[^\W_]+")

STOP_WORDS = frozenset("""
a about after all also an and any are as at be been before but by can could
did do does for from had has have he her his how i if in into is it its just
more most new no not of on one or our out over said says she so some than that
the their them then there these they this to up was we were what when which
who will with would you
""".split())


def tokens(text):
    """Lowercase alphanumeric words of text, stop words removed."""
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP_WORDS]


def vectorise(texts):
    """Streaming tf-idf vectors, one per text in arrival order.

    Each vector is a dict term -> weight, L2-normalised (empty for a text
    with no tokens); idf uses the document frequencies of the texts seen so
    far, this one included.
    """
    df = Counter()
    vectors = []
    for n, text in enumerate(texts, start=1):
        tf = Counter(tokens(text))
        df.update(tf.keys())
        vec = {t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1)
               for t, c in tf.items()}
        norm = math.sqrt(sum(w * w for w in vec.values()))
        vectors.append({t: w / norm for t, w in vec.items()} if norm else {})
    return vectors


def cluster(vectors, threshold):
    """Cluster numbers (0, 1, ...) for vectors in arrival order.

    A vector joins the earliest-created cluster of highest centroid cosine
    when that cosine is >= threshold, else opens a new cluster. An empty
    vector always opens a new cluster.
    """
    sums = []                       # cluster -> {term: summed weight}
    norms2 = []                     # cluster -> squared norm of its sum
    postings = defaultdict(set)     # term -> clusters whose sum has it
    labels = []
    for vec in vectors:
        dots = Counter()
        for t, w in vec.items():
            for c in postings[t]:
                dots[c] += w * sums[c][t]
        best, best_cos = None, -1.0
        for c, dot in dots.items():
            cos = dot / math.sqrt(norms2[c])
            if cos > best_cos or (cos == best_cos and c < best):
                best, best_cos = c, cos
        if best is None or best_cos < threshold:
            best = len(sums)
            sums.append({})
            norms2.append(0.0)
            dots[best] = 0.0
        add(sums[best], vec, postings, best)
        norms2[best] += 2 * dots[best] + sum(w * w for w in vec.values())
        labels.append(best)
    return labels


def add(total, vec, postings, label):
    """Add vec into the sparse sum `total` of cluster `label`, indexing new terms."""
    for t, w in vec.items():
        if t not in total:
            postings[t].add(label)
        total[t] = total.get(t, 0.0) + w


def run(texts, threshold):
    """Cluster labels for texts in arrival order at one threshold."""
    return cluster(vectorise(texts), threshold)
