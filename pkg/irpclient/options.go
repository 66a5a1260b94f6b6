package irpclient

// CallOption adjusts one API call.
type CallOption func(*callOptions)

type callOptions struct {
	irp        string
	crissCross string
	supGSTIN   string
}

// WithIRP routes the call to that IRP's base URL (and takes a session for
// that IRP) instead of Config.DefaultIRP.
func WithIRP(irp string) CallOption { return func(o *callOptions) { o.irp = irp } }

// WithCrissCross sets the irp header, asking the IRP the call is sent to
// to act on an IRN generated on otherIRP ("NIC1"/"NIC2").
func WithCrissCross(otherIRP string) CallOption {
	return func(o *callOptions) { o.crissCross = otherIRP }
}

// WithSupGSTIN sets sup_gstin: an e-commerce operator acting for a supplier.
func WithSupGSTIN(gstin string) CallOption { return func(o *callOptions) { o.supGSTIN = gstin } }

func applyOptions(opts []CallOption) callOptions {
	var o callOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}
