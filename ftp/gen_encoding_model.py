#!/usr/bin/python3
"""Generates ftp/encoding_model.h, the statistical model behind ftp/encoding.c.

Training text: the translated messages (msgstr) of the gettext catalogues installed under
/usr/share/locale, one language at a time. Byte tables come from glibc iconv (the converter
Ferry uses at run time), so detection and conversion agree on every byte.

Models produced:
  * per language of the single-byte encodings: a letter-bigram model over a case-folded
    alphabet (costs in quarter bits = -4*log2 P(cur | prev)), index 0 being the word
    boundary and the last index "any other letter";
  * per single-byte encoding: the code point and class of each byte 0x80..0xFF and, for each
    of its languages, the alphabet index of each byte;
  * per multi-byte encoding: the costs of its most frequent characters, keyed by their native
    2-byte code.

Run: /usr/bin/python3 ftp/gen_encoding_model.py > ftp/encoding_model.h
"""
import glob
import gzip
import re
import gettext
import math
import subprocess
import sys
import unicodedata
from collections import Counter

MAX_CHARS = 4_000_000  # training characters per language
LAMBDA = 0.85          # weight of the bigram estimate against the unigram
MIN_FREQ = 1.5e-5       # a non-ASCII letter joins the alphabet from this frequency
MAX_ALPHA = 90
MB_TOP = 2500          # characters kept per multi-byte language

LANG_DIRS = {
    'fr': ['fr'], 'de': ['de'], 'es': ['es'], 'it': ['it'], 'pt': ['pt', 'pt_BR'],
    'nl': ['nl'], 'sv': ['sv'], 'da': ['da'], 'nb': ['nb'], 'fi': ['fi'], 'ca': ['ca'],
    'is': ['is'],
    'cs': ['cs'], 'sk': ['sk'], 'pl': ['pl'], 'hu': ['hu'], 'sl': ['sl'], 'hr': ['hr'],
    'ro': ['ro'],
    'ru': ['ru'], 'uk': ['uk'], 'bg': ['bg'], 'sr': ['sr'], 'be': ['be'],
    'el': ['el'], 'tr': ['tr'], 'he': ['he'], 'ar': ['ar'], 'fa': ['fa'], 'th': ['th'],
    'ja': ['ja'], 'zh_CN': ['zh_CN'], 'zh_TW': ['zh_TW'], 'ko': ['ko'],
}

# How likely each language is among the servers using a charset (normalised per charset).
LANG_WEIGHT = {'fr': 3, 'de': 3, 'es': 2, 'it': 2, 'pt': 2, 'nl': 1.5, 'sv': 1.5, 'da': 1,
               'nb': 1, 'fi': 1, 'ca': 1, 'is': 0.3, 'cs': 2, 'pl': 2, 'hu': 1.5, 'sk': 1,
               'sl': 1, 'hr': 1, 'ro': 1, 'ru': 4, 'uk': 2, 'bg': 1, 'sr': 1, 'be': 0.5,
               'ar': 2, 'fa': 1}

WEST = ['fr', 'de', 'es', 'it', 'pt', 'nl', 'sv', 'da', 'nb', 'fi', 'ca', 'is']
CENTRAL = ['cs', 'sk', 'pl', 'hu', 'sl', 'hr', 'ro']
CYR = ['ru', 'uk', 'bg', 'sr', 'be']

# IANA name, iconv name, languages, prior cost in quarter bits (how rare the encoding is on
# FTP servers relative to the most common one of its script).
SB = [
    ('windows-1252', 'WINDOWS-1252', WEST, 0),
    ('ISO-8859-1', 'ISO-8859-1', WEST, 2),
    ('ISO-8859-15', 'ISO-8859-15', WEST, 4),
    ('IBM850', 'CP850', WEST, 6),
    ('IBM437', 'CP437', WEST, 8),
    ('macintosh', 'MACINTOSH', WEST, 8),
    ('windows-1250', 'WINDOWS-1250', CENTRAL, 6),
    ('ISO-8859-2', 'ISO-8859-2', CENTRAL, 8),
    ('windows-1251', 'WINDOWS-1251', CYR, 0),
    ('KOI8-R', 'KOI8-R', ['ru'], 2),
    ('IBM866', 'CP866', CYR, 6),
    ('windows-1253', 'WINDOWS-1253', ['el'], 2),
    ('ISO-8859-7', 'ISO-8859-7', ['el'], 4),
    ('windows-1254', 'WINDOWS-1254', ['tr'], 4),
    ('windows-1255', 'WINDOWS-1255', ['he'], 4),
    ('windows-1256', 'WINDOWS-1256', ['ar', 'fa'], 4),
    ('windows-874', 'WINDOWS-874', ['th'], 4),
]

# IANA name, iconv name used to decode, python codec for native codes, language, prior
MB = [
    ('Shift_JIS', 'CP932', 'cp932', 'ja', 0),
    ('EUC-JP', 'EUC-JP', 'euc_jp', 'ja', 4),
    ('GBK', 'GBK', 'gbk', 'zh_CN', 0),
    ('GB18030', 'GB18030', 'gb18030', 'zh_CN', 6),
    ('Big5', 'CP950', 'cp950', 'zh_TW', 0),
    ('EUC-KR', 'CP949', 'cp949', 'ko', 0),
]

# Symbols that do occur inside real file names.
SYM_OK = set('°€£¥©®™«»¿¡–—‘’‚“”„·•…§¶±×÷¹²³½¼¾ªº¢¤¦¨¯´¸µ')

# Letters some languages write with characters their legacy encodings lack.
FOLD = {'ș': 'ş', 'ț': 'ţ', 'Ș': 'Ş', 'Ț': 'Ţ'}


def is_letter(ch):
    return unicodedata.category(ch)[0] in 'LM'


def man_text(lang):
    """Running text of the manual pages translated into lang (troff requests dropped)."""
    out = []
    d = {'pt': 'pt_BR'}.get(lang, lang)
    for path in sorted(glob.glob('/usr/share/man/%s/man*/*.gz' % d)):
        try:
            with gzip.open(path, 'rt', encoding='utf-8', errors='ignore') as f:
                for line in f:
                    if line.startswith(('.', "'")):
                        continue
                    out.append(re.sub(r'\\(f[BIRP]|[-&e]|\(..|s[-+]?\d)', ' ', line))
        except OSError:
            continue
    return ''.join(out)


def load_text(lang):
    out = [man_text(lang)]
    total = len(out[0])
    for d in LANG_DIRS[lang]:
        for path in sorted(glob.glob('/usr/share/locale/%s/LC_MESSAGES/*.mo' % d)):
            try:
                with open(path, 'rb') as f:
                    cat = gettext.GNUTranslations(f)._catalog
            except Exception:
                continue
            for k, v in cat.items():
                if not k or not isinstance(v, str):
                    continue
                out.append(v)
                total += len(v)
                if total > MAX_CHARS:
                    return '\n'.join(out)
    return '\n'.join(out)


def low(ch):
    l = ch.lower()
    return l if len(l) == 1 else ch


def words(text):
    w = []
    for ch in text:
        ch = FOLD.get(ch, ch)
        if is_letter(ch):
            w.append(low(ch))
        elif w:
            yield w
            w = []
    if w:
        yield w


def encodable(ch, codecs):
    for c in codecs:
        try:
            b = ch.encode(c)
        except Exception:
            continue
        if len(b) == 1:
            return True
    return False


PY_CODEC = {'WINDOWS-1252': 'cp1252', 'ISO-8859-1': 'latin-1', 'ISO-8859-15': 'iso8859_15',
            'CP850': 'cp850', 'CP437': 'cp437', 'MACINTOSH': 'mac_roman',
            'WINDOWS-1250': 'cp1250', 'ISO-8859-2': 'iso8859_2', 'WINDOWS-1251': 'cp1251',
            'KOI8-R': 'koi8_r', 'CP866': 'cp866', 'WINDOWS-1253': 'cp1253',
            'ISO-8859-7': 'iso8859_7', 'WINDOWS-1254': 'cp1254', 'WINDOWS-1255': 'cp1255',
            'WINDOWS-1256': 'cp1256', 'WINDOWS-874': 'cp874'}


def lang_codecs(lang):
    return [PY_CODEC[e[1]] for e in SB if lang in e[2]]


def q(bits):
    return max(0, min(255, int(round(bits * 4))))


def build_sb_model(lang):
    text = load_text(lang)
    codecs = lang_codecs(lang)
    latin = lang in WEST or lang in CENTRAL or lang == 'tr'
    uni = Counter()
    seqs = []
    for w in words(text):
        seqs.append(w)
        uni.update(w)
    total = sum(uni.values())
    alphabet = []
    if latin:
        alphabet = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    else:
        alphabet = ['<latin>']
    native = [c for c, n in uni.most_common()
              if ord(c) >= 0x80 and n / total >= MIN_FREQ and encodable(c, codecs)]
    alphabet += native[:MAX_ALPHA - len(alphabet)]
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    other = len(alphabet) + 1
    size = other + 1

    def idx(c):
        if c in index:
            return index[c]
        if not latin and c.isascii():
            return 1
        return other

    big = [[0] * size for _ in range(size)]
    cnt = [0] * size
    for w in seqs:
        prev = 0
        for c in w:
            i = idx(c)
            big[prev][i] += 1
            cnt[i] += 1
            prev = i
        big[prev][0] += 1
        cnt[0] += 1
    n_all = sum(cnt)
    puni = [(cnt[i] + 0.5) / (n_all + 0.5 * size) for i in range(size)]
    rows = []
    for p in range(size):
        row_total = sum(big[p])
        rows.append([q(-math.log2(LAMBDA * big[p][c] / max(row_total, 1) +
                                  (1 - LAMBDA) * puni[c]))
                     for c in range(size)])
    ucost = [q(-math.log2(puni[i])) for i in range(size)]
    ascii_idx = [0] * 128
    for b in range(128):
        ch = chr(b)
        if ch.isalpha():
            ascii_idx[b] = idx(ch.lower())
    return {'lang': lang, 'alphabet': alphabet, 'index': index, 'other': other, 'size': size,
            'rows': rows, 'uni': ucost, 'ascii': ascii_idx, 'latin': latin, 'chars': total}


def iconv_byte(enc, b):
    r = subprocess.run(['iconv', '-f', enc, '-t', 'UTF-32BE'], input=bytes([b]),
                       capture_output=True)
    if r.returncode != 0 or len(r.stdout) != 4:
        return None
    return int.from_bytes(r.stdout, 'big')


# byte classes (must match encoding.c)
C_UNDEF, C_CTRL, C_SEP, C_SYM_BAD, C_SYM_OK, C_LOWER, C_UPPER = range(7)


SCRIPTS = ['LATIN', 'CYRILLIC', 'GREEK', 'HEBREW', 'ARABIC', 'THAI']


def script_of(cp):
    if cp is None or not is_letter(chr(cp)):
        return 0
    name = unicodedata.name(chr(cp), '')
    for i, sc in enumerate(SCRIPTS):
        if name.startswith(sc):
            return i + 1
    return len(SCRIPTS) + 1


def byte_class(cp):
    if cp is None:
        return C_UNDEF
    ch = chr(cp)
    cat = unicodedata.category(ch)
    if cat == 'Cc' or cat == 'Cf' or cat == 'Co' or cat == 'Cn':
        return C_CTRL
    if cat[0] == 'Z':
        return C_SEP
    if cat[0] in 'LM':
        return C_UPPER if cat == 'Lu' or cat == 'Lt' else C_LOWER
    return C_SYM_OK if ch in SYM_OK else C_SYM_BAD


def build_mb(lang, codec):
    text = load_text(lang)
    freq = Counter(c for c in text if ord(c) >= 0x80 and is_letter(c))
    total = sum(freq.values())
    out = []
    for c, n in freq.most_common():
        try:
            b = c.encode(codec)
        except Exception:
            continue
        if len(b) != 2:
            continue
        out.append((int.from_bytes(b, 'big'), q(-math.log2(n / total)), c))
        if len(out) >= MB_TOP:
            break
    covered = sum(freq[c] for _, _, c in out) / max(total, 1)
    return sorted(out), covered


def carray(vals, per_line=24):
    lines = []
    for i in range(0, len(vals), per_line):
        lines.append('    ' + ', '.join(str(v) for v in vals[i:i + per_line]) + ',')
    return '\n'.join(lines)


def main():
    out = sys.stdout
    w = out.write
    w('/* Generated by ftp/gen_encoding_model.py from the gettext catalogues of Debian 12 and\n'
      ' * glibc iconv: do not edit. Statistical model of ftp/encoding.c (see there). */\n')
    w('/* clang-format off */\n\n')
    langs = []
    for e in SB:
        for lang in e[2]:
            if lang not in langs:
                langs.append(lang)
    models = {}
    for lang in langs:
        m = build_sb_model(lang)
        models[lang] = m
        sys.stderr.write('%s: %d letters, alphabet %d\n' % (lang, m['chars'], len(m['alphabet'])))
        flat = [v for row in m['rows'] for v in row]
        w('/* %s: %s */\n' % (lang, ' '.join(a for a in m['alphabet'])))
        w('static const unsigned char lm_%s_bigram[%d] = {\n%s\n};\n' % (
            lang, len(flat), carray(flat)))
        w('static const unsigned char lm_%s_uni[%d] = {\n%s\n};\n' % (
            lang, m['size'], carray(m['uni'])))
    w('\nstatic const struct enc_lang_model lang_models[] = {\n')
    for lang in langs:
        m = models[lang]
        w('    {"%s", %d, {%s}, lm_%s_bigram, lm_%s_uni},\n' % (
            lang, m['size'], ', '.join(str(v) for v in m['ascii']), lang, lang))
    w('};\n\n')
    lang_no = {lang: i for i, lang in enumerate(langs)}
    pair_tables = []
    w('static const struct enc_sb_model sb_models[] = {\n')
    for iana, ic, ls, prior in SB:
        cps = [iconv_byte(ic, b) for b in range(0x80, 0x100)]
        cls = [byte_class(cp) for cp in cps]
        first_pair = len(pair_tables)
        for lang in ls:
            m = models[lang]
            t = []
            for cp, c in zip(cps, cls):
                if c in (C_LOWER, C_UPPER):
                    ch = low(FOLD.get(chr(cp), chr(cp)))
                    i = m['index'].get(ch)
                    if i is None:
                        i = 1 if (not m['latin'] and ch.isascii()) else m['other']
                    t.append(i)
                else:
                    t.append(0)
            wsum = sum(LANG_WEIGHT.get(x, 1) for x in ls)
            pair_tables.append((lang_no[lang], q(-math.log2(LANG_WEIGHT.get(lang, 1) / wsum)), t))
        w('    {"%s", "%s", %d, %d, %d,\n     {%s},\n     {%s},\n     {%s}},\n' % (
            iana, ic, prior, first_pair, len(ls),
            ', '.join(str(cp or 0) for cp in cps), ', '.join(str(c) for c in cls),
            ', '.join(str(script_of(cp)) for cp in cps)))
    w('};\n\n')
    w('static const struct enc_sb_pair sb_pairs[] = {\n')
    for lang, prior, t in pair_tables:
        w('    {%d, %d, {%s}},\n' % (lang, prior, ', '.join(str(v) for v in t)))
    w('};\n\n')
    for iana, ic, codec, lang, prior in MB:
        chars, covered = build_mb(lang, codec)
        sys.stderr.write('%s: %d chars, %.3f of text\n' % (iana, len(chars), covered))
        name = iana.replace('-', '_').lower()
        w('static const unsigned short mb_%s_code[%d] = {\n%s\n};\n' % (
            name, len(chars), carray([c for c, _, _ in chars], 16)))
        w('static const unsigned char mb_%s_cost[%d] = {\n%s\n};\n' % (
            name, len(chars), carray([k for _, k, _ in chars])))
    w('\nstatic const struct enc_mb_model mb_models[] = {\n')
    for kind, (iana, ic, codec, lang, prior) in enumerate(MB):
        name = iana.replace('-', '_').lower()
        w('    {"%s", "%s", MB_%s, %d, mb_%s_code, mb_%s_cost, sizeof mb_%s_code / '
          'sizeof mb_%s_code[0]},\n' % (iana, ic, name.upper(), prior, name, name, name, name))
    w('};\n')


if __name__ == '__main__':
    main()
