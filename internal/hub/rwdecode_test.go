package hub

import "testing"

func TestSeriesCacheGenerations(t *testing.T) {
	c := newSeriesCache(2)
	a, b, d := &seriesEntry{}, &seriesEntry{}, &seriesEntry{}
	c.put([]byte("a"), a)
	c.put([]byte("b"), b)
	// The current generation is full: "a" and "b" move to the previous one.
	c.put([]byte("d"), d)
	if c.get([]byte("a")) != a { // found in the previous generation and kept
		t.Fatal("a lost after one turn")
	}
	// Next turn: "b", unused since, is dropped; "a" and "d" stay.
	c.put([]byte("e"), &seriesEntry{})
	if c.get([]byte("b")) != nil {
		t.Fatal("b kept although unused for a whole generation")
	}
	if c.get([]byte("a")) != a || c.get([]byte("d")) != d {
		t.Fatal("recently used entries lost")
	}
}
