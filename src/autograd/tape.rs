//! Reverse-mode autograd on a tape. Each op that involves a value requiring a gradient appends
//! a node holding its backward rule; `backward()` walks the nodes in reverse creation order
//! (a topological order, since a node is created after its inputs), summing gradients where a
//! value was used more than once. A `no_grad` tape records nothing, so intermediate values are
//! freed as soon as their `Var`s are dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::param::Param;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Given the gradient of the op's output and which inputs need a gradient, returns one
/// gradient per input (None where not needed).
pub type BackwardFn = Box<dyn FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>>>;

struct Node {
    op: &'static str,
    /// One entry per op input: the input's node, or None if it needs no gradient.
    inputs: Vec<Option<usize>>,
    backward: Option<BackwardFn>,
    param: Option<Param>,
    dims: Vec<usize>,
}

struct TapeState {
    nodes: Vec<Node>,
    recording: bool,
    consumed: bool,
}

#[derive(Clone)]
pub struct Tape(Rc<RefCell<TapeState>>);

/// A value on a tape. Cloning is cheap.
#[derive(Clone)]
pub struct Var {
    value: Tensor,
    node: Option<usize>,
    tape: Tape,
}

impl Default for Tape {
    fn default() -> Self {
        Tape::new()
    }
}

impl Tape {
    /// A tape that records ops for `backward()`.
    pub fn new() -> Tape {
        Tape(Rc::new(RefCell::new(TapeState {
            nodes: Vec::new(),
            recording: true,
            consumed: false,
        })))
    }

    /// A tape for inference: records nothing, keeps no intermediate values.
    pub fn no_grad() -> Tape {
        let tape = Tape::new();
        tape.0.borrow_mut().recording = false;
        tape
    }

    pub fn is_recording(&self) -> bool {
        self.0.borrow().recording
    }

    /// A value that needs no gradient (data, labels, frozen tensors).
    pub fn constant(&self, value: Tensor) -> Var {
        Var {
            value,
            node: None,
            tape: self.clone(),
        }
    }

    /// A value whose gradient `backward()` reports (an input under test, say).
    pub fn leaf(&self, value: Tensor) -> Var {
        self.push_leaf(value, None)
    }

    /// A parameter: its gradient is also accumulated into the `Param` itself.
    pub fn param(&self, param: &Param) -> Var {
        self.push_leaf(param.value(), Some(param.clone()))
    }

    fn push_leaf(&self, value: Tensor, param: Option<Param>) -> Var {
        let mut state = self.0.borrow_mut();
        if !state.recording {
            drop(state);
            return self.constant(value);
        }
        let id = state.nodes.len();
        state.nodes.push(Node {
            op: "leaf",
            inputs: Vec::new(),
            backward: None,
            param,
            dims: value.dims().to_vec(),
        });
        drop(state);
        Var {
            value,
            node: Some(id),
            tape: self.clone(),
        }
    }

    /// Records an op's output. `backward` is kept only if recording and some input needs a gradient.
    pub fn record(
        &self,
        op: &'static str,
        value: Tensor,
        inputs: &[&Var],
        backward: impl FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + 'static,
    ) -> Var {
        let mut state = self.0.borrow_mut();
        let needs_grad = inputs.iter().any(|v| v.node.is_some());
        if !state.recording || !needs_grad {
            drop(state);
            return self.constant(value);
        }
        let id = state.nodes.len();
        state.nodes.push(Node {
            op,
            inputs: inputs.iter().map(|v| v.node).collect(),
            backward: Some(Box::new(backward)),
            param: None,
            dims: value.dims().to_vec(),
        });
        drop(state);
        Var {
            value,
            node: Some(id),
            tape: self.clone(),
        }
    }

    fn same(&self, other: &Tape) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Gradients of the leaves reached by one `backward()`.
#[derive(Debug)]
pub struct Gradients(HashMap<usize, Tensor>);

impl Gradients {
    /// The gradient of a leaf or parameter `Var`; None if the output does not depend on it.
    pub fn get(&self, var: &Var) -> Option<&Tensor> {
        var.node.and_then(|id| self.0.get(&id))
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Var({:?} {}, node {:?})",
            self.value.dtype(),
            self.value.shape(),
            self.node
        )
    }
}

impl Var {
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    pub fn dims(&self) -> &[usize] {
        self.value.dims()
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// Checks that `other` lives on the same tape (mixing tapes is always a bug).
    pub fn expect_same_tape(&self, other: &Var, op: &'static str) -> Result<()> {
        if self.tape.same(&other.tape) {
            Ok(())
        } else {
            Err(Error::Autograd(format!("{op}: inputs come from different tapes")))
        }
    }

    /// Backpropagates from this scalar (one-element) value with gradient 1.
    pub fn backward(&self) -> Result<Gradients> {
        if self.value.numel() != 1 {
            return Err(Error::Autograd(format!(
                "backward() needs a one-element output, got shape {}; use backward_with(grad)",
                self.value.shape()
            )));
        }
        self.backward_with(self.value.ones_like()?)
    }

    /// Backpropagates from this value with the given upstream gradient (same shape).
    pub fn backward_with(&self, grad: Tensor) -> Result<Gradients> {
        if grad.dims() != self.value.dims() {
            return Err(Error::Autograd(format!(
                "upstream gradient {} does not match output shape {}",
                grad.shape(),
                self.value.shape()
            )));
        }
        self.value.expect_same_type(&grad, "backward", "upstream gradient")?;
        let Some(root) = self.node else {
            return Err(Error::Autograd(
                "backward() from a value that does not depend on any leaf or parameter (or on a no_grad tape)".into(),
            ));
        };
        let mut nodes = {
            let mut state = self.tape.0.borrow_mut();
            if state.consumed {
                return Err(Error::Autograd(
                    "backward() already ran on this tape; build a new tape per step".into(),
                ));
            }
            state.consumed = true;
            std::mem::take(&mut state.nodes)
        };
        let mut grads: Vec<Option<Tensor>> = vec![None; root + 1];
        grads[root] = Some(grad);
        let mut leaves = HashMap::new();
        for id in (0..=root).rev() {
            let Some(g) = grads[id].take() else { continue };
            let node = &mut nodes[id];
            let Some(rule) = node.backward.take() else {
                if let Some(p) = &node.param {
                    p.accumulate_grad(&g)?;
                }
                leaves.insert(id, g);
                continue;
            };
            let inputs = std::mem::take(&mut node.inputs);
            let needs: Vec<bool> = inputs.iter().map(Option::is_some).collect();
            let input_grads = rule(&g, &needs)?;
            for (input, ig) in inputs.iter().zip(input_grads) {
                let (Some(input), Some(ig)) = (input, ig) else {
                    continue;
                };
                let expected = &nodes[*input].dims;
                if ig.dims() != expected.as_slice() {
                    return Err(Error::Autograd(format!(
                        "backward rule of {} returned gradient {} for an input of shape {:?}",
                        nodes[id].op,
                        ig.shape(),
                        expected
                    )));
                }
                grads[*input] = Some(match grads[*input].take() {
                    None => ig,
                    Some(acc) => backend::of(&acc).add(&acc, &ig)?,
                });
            }
        }
        Ok(Gradients(leaves))
    }
}
