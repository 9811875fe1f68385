package image

import (
	"fmt"
	"strings"
	"unicode"
)

// splitWords splits s at unquoted white space, removing quotes and escapes as a
// Dockerfile does: 'single quotes' are literal, "double quotes" honour \" \\ and \$, and a
// backslash outside quotes takes the next character literally.
func splitWords(s string) ([]string, error) {
	return lexWords(s, true)
}

// unquote removes quotes and escapes from s but keeps its white space: the value of a
// legacy `ENV key value with spaces`.
func unquote(s string) (string, error) {
	words, err := lexWords(s, false)
	if err != nil || len(words) == 0 {
		return "", err
	}
	return words[0], nil
}

func lexWords(s string, split bool) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		runes   = []rune(s)
		flush   = func() { words = append(words, word.String()); word.Reset(); inWord = false }
		pending = func() { inWord = true }
	)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch {
		case split && unicode.IsSpace(c):
			if inWord {
				flush()
			}
		case c == '\\':
			pending()
			if i+1 < len(runes) {
				i++
				word.WriteRune(runes[i])
			} else {
				word.WriteRune(c)
			}
		case c == '\'':
			pending()
			end := indexRune(runes, i+1, '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			word.WriteString(string(runes[i+1 : end]))
			i = end
		case c == '"':
			pending()
			j := i + 1
			for ; j < len(runes) && runes[j] != '"'; j++ {
				if runes[j] == '\\' && j+1 < len(runes) && strings.ContainsRune(`"\$`, runes[j+1]) {
					j++
				}
				word.WriteRune(runes[j])
			}
			if j >= len(runes) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
		default:
			pending()
			word.WriteRune(c)
		}
	}
	if inWord {
		flush()
	}
	return words, nil
}

func indexRune(runes []rune, from int, r rune) int {
	for i := from; i < len(runes); i++ {
		if runes[i] == r {
			return i
		}
	}
	return -1
}
