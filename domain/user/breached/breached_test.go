package breached

import "testing"

func TestContains(t *testing.T) {
	for _, p := range []string{"password", "12345678", "PassWord", "iloveyou", "qwertyuiop", "password1", "baseball"} {
		if !Contains(p) {
			t.Errorf("%q not found", p)
		}
	}
	for _, p := range []string{"correct horse battery staple 7", "zx!Q9#vT2$lm", "a fine long passphrase"} {
		if Contains(p) {
			t.Errorf("%q reported breached", p)
		}
	}
	if n := Len(); n < 100_000 {
		t.Errorf("only %d entries of 8 or more characters", n)
	}
}

func BenchmarkContains(b *testing.B) {
	Len()
	for i := 0; b.Loop(); i++ {
		Contains("not in the list at all")
	}
}
