package fakes

import "sync"

// UpdateIn is the read-modify-write of a map-backed fake store: under mu,
// fn changes a copy of m[k], which is stored only when fn succeeds;
// missing when k is absent. It is what a store's locked update does.
func UpdateIn[K comparable, V any](mu *sync.Mutex, m map[K]V, k K, missing error, fn func(*V) error) error {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[k]
	if !ok {
		return missing
	}
	if err := fn(&v); err != nil {
		return err
	}
	m[k] = v
	return nil
}
